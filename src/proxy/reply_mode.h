// CLIENT REPLY ON|OFF|SKIP, with redis-server's semantics: OFF answers
// nothing (errors included) until ON, whose +OK is sent; SKIP answers
// nothing to the command after it (SKIP itself gets no reply, and is
// ignored while OFF). Replies owed by servers when a request is silenced
// are still awaited (the client's order is kept) and dropped.
//
// A client whose mode is ON (ClientState::reply_mode == 0) never comes here:
// ClientSession tests that one byte per request.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "proxy/request_context.h"

namespace redkube::proxy {

enum ReplyModeBit : uint8_t {
  kReplyOff = 1u << 0,       // CLIENT REPLY OFF
  kReplySkipNext = 1u << 1,  // CLIENT REPLY SKIP: the next command's replies are dropped
  kReplySkipping = 1u << 2,  // while that command runs (CLIENT REPLY ON clears it)
  // MONITOR: keyspace commands are refused as redis-server refuses them to
  // a monitoring client; RESET ends it. Not a reply mode, but it shares the
  // one test on the request path.
  kMonitoring = 1u << 3,
};

// Dispatches one request of a client whose reply mode is not ON.
DispatchOrder HandleUnderReplyMode(RequestHandler& handler, RequestContext& ctx,
                                   std::span<const std::string_view> argv, std::string_view raw);

}  // namespace redkube::proxy
