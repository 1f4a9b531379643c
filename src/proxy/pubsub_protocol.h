// The RESP2 and RESP3 shapes of pub/sub: recognising a message pushed on a subscribed
// connection, reading the subscription count of a (un)subscribe reply, and
// building the confirmations the proxy gives clients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace redkube::proxy {

// "message", "pmessage" or "smessage": a push, not a reply to a request.
bool IsPubsubMessage(std::string_view reply);

// The count that ends a (p|s)(un)subscribe reply ([kind, name, count]).
std::optional<int64_t> SubscriptionCount(std::string_view reply);

// [kind, name, count]; a null name when `name` is nullopt (UNSUBSCRIBE with
// nothing subscribed). RESP3 (resp 3): a push, `>3`, with `_` for no name.
std::string SubscriptionReply(std::string_view kind, std::optional<std::string_view> name, int64_t count,
                              int resp = 2);

}  // namespace redkube::proxy
