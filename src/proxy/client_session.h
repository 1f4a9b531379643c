// One client connection: socket I/O, request parsing and back-pressure.
// Each parsed request goes to the RequestHandler (the CommandDispatcher)
// with the client's RequestContext; replies come back through the
// client's ReplyQueue, in request order, into the output buffer this
// session writes. Owned by the worker thread that accepted it.
#pragma once

#include <cstdint>
#include <string>

#include "core/buffer.h"
#include "core/resp_parser.h"
#include "proxy/client_backends.h"
#include "proxy/client_listing.h"
#include "proxy/client_state.h"
#include "proxy/event_loop.h"
#include "proxy/reply_queue.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

class ClientSession : public EventHandler, private ReplyQueue::Owner {
 public:
  ClientSession(WorkerContext* worker, RequestHandler* handler, int fd, uint64_t id, std::string peer,
                std::string local);
  ~ClientSession() override;

  void OnEvent(uint32_t events) override;

  // Before the loop sleeps: write the output, resume a paused reader.
  void FlushOutput();
  void ResumeInput();

  // Closes the socket now; replies still owed by backends are dropped when
  // they arrive. The worker frees the object later.
  void Close();
  bool closed() const { return state_.fd < 0; }
  // A parked request is still to be answered: not idle.
  bool Idle() const { return replies_.empty() && output_.empty() && !parked_; }
  // Parked on a held key (kWaitForTopology): the worker calls this when it
  // applied a newer topology (`topology_changed`) and on its ticks; once
  // either happened or the hold deadline passed, the client is queued to
  // resume (the request is dispatched again) and true returned.
  bool Unpark(bool topology_changed, int64_t now_ms);
  // No request for `ms` and nothing in progress, not subscribed, not blocked.
  bool IdleLongerThan(int64_t ms) const;
  // Stops reading requests (shutdown drain).
  void StopReading();
  // CLIENT UNBLOCK of this client: true if it was blocked (ReplyQueue::
  // Blocked) and its servers were asked to unblock it (ClientBackends::
  // UnblockOnServers).
  bool Unblock(bool with_error) { return replies_.Blocked() && own_.UnblockOnServers(with_error) > 0; }

  // What CLIENT LIST shows (read on this worker's thread only).
  const ClientState& state() const { return state_; }
  ClientConnectionView view() const {
    return {input_.size(), output_.size(), replies_.Blocked(), want_write_};
  }

 private:
  // ReplyQueue::Owner
  void OnRepliesWritten() override;
  void OnClosing() override { StopReading(); }
  void OnFinalReplyWritten() override { close_after_flush_ = true; }

  void ReadInput();
  // Parses and dispatches complete requests in [data, data+size); returns the
  // bytes consumed. Stops early when too many replies are owed.
  size_t ProcessInput(const char* data, size_t size);
  void ProtocolError(const std::string& message);
  // The client sent EOF (closed, or shut down its sending side as `nc -N`
  // and shell pipes do): what it sent is answered first, as redis-server
  // does, then the connection closes. A blocked client is closed at once
  // instead (its BLPOP must not pop for no one).
  void FinishAfterEof();
  // Stops dispatching until every owed reply is in (request order across
  // the client's own and shared connections).
  void AwaitReplies();
  // Stops dispatching until the worker unparks the client (Unpark).
  void Park();
  void SetReading(bool reading);
  void MarkDirty();
  bool ReadyToResume() const;

  WorkerContext* worker_;
  RequestHandler* handler_;
  ClientState state_;
  Buffer input_;
  Buffer output_;
  RequestParser parser_;
  ReplyQueue replies_;
  ClientBackends own_;
  RequestContext ctx_;

  bool reading_ = true;            // EPOLLIN registered
  bool want_write_ = false;        // EPOLLOUT registered
  bool paused_ = false;            // too many replies owed: input waits
  bool awaiting_replies_ = false;  // paused until every owed reply is in
  bool parked_ = false;            // paused until Unpark (in worker's parked_clients)
  bool close_after_flush_ = false;
  bool peer_closed_ = false;  // EOF read: EPOLLRDHUP would fire at once
  bool dirty_ = false;
};

}  // namespace redkube::proxy
