// One client connection: reads and parses its requests, hands each to the
// CommandDispatcher, and writes the replies back in request order however
// many backends answer them and in whatever order they do. Owned by the
// worker thread that accepted it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <memory>
#include <span>
#include <vector>

#include "core/buffer.h"
#include "core/resp_parser.h"
#include "proxy/backend_connection.h"
#include "proxy/client_transaction.h"
#include "proxy/event_loop.h"
#include "proxy/pending_reply.h"
#include "proxy/subscription_router.h"

namespace redkube::proxy {

class Worker;

class ClientSession : public EventHandler {
 public:
  ClientSession(Worker* worker, int fd, uint64_t id, std::string peer, std::string local);
  ~ClientSession() override;

  void OnEvent(uint32_t events) override;

  // A reply slot at the end of the queue, for a request sent to backends.
  PendingReply* NewPending();
  // A reply the proxy makes itself, placed after every earlier reply.
  void Reply(std::string_view resp);
  // A pub/sub message arriving outside request handling: queued after every
  // earlier reply and written before the loop sleeps.
  void Push(std::string_view resp) {
    Reply(resp);
    MarkDirty();
  }
  // QUIT: reply, then close once everything before it has been written.
  void ReplyAndClose(std::string_view resp);

  // Called by the worker when a backend reply for `pending` arrives and
  // `pending` waits for no other part: the bytes go straight out if it is
  // next in line.
  bool IsNextReply(const PendingReply* pending) const { return head_ == pending; }
  void AppendOutput(std::string_view bytes);
  // Writes every reply that is done and next in line to the output buffer.
  void DrainDoneReplies();

  // Before the loop sleeps: write the output, resume a paused reader.
  void FlushOutput();
  void ResumeInput();

  // Closes the socket now; replies still owed by backends are dropped when
  // they arrive. The worker frees the object later.
  void Close();
  bool closed() const { return fd_ < 0; }
  bool Idle() const { return head_ == nullptr && output_.empty(); }
  // Whether a reply to an earlier request is still owed (replies the proxy
  // made itself wait only behind those).
  bool OwesReplies() const { return head_ != nullptr; }
  // No request for `ms` and nothing in progress, not subscribed, not blocked.
  bool IdleLongerThan(int64_t ms) const;
  // Stops reading requests (shutdown drain).
  void StopReading();

  // The client's own connection to `shard`'s master, for blocking commands
  // (BLPOP, XREAD BLOCK...), so that a blocked client delays no one else,
  // and for transactions (WATCH state lives on a connection). Created on
  // first use, closed with the client.
  BackendConnection* OwnBackend(int shard);
  // Periodic: the own connections' timeouts and reconnects, and lost
  // subscriptions restored.
  void TickOwnBackends();
  // An own connection that carried subscriptions failed (its server died,
  // restarted, or was replaced by a failover). They are subscribed again in
  // the background on the shard's master of the moment, retried until it
  // answers; the client stays connected and subscribed. Messages published
  // on that shard meanwhile are missed, as pub/sub promises no delivery to
  // a subscriber that is not connected.
  void OnSubscriptionsLost(BackendConnection* backend);

  // The own connection to `master`, if the client has one.
  BackendConnection* FindOwnBackend(const std::string& master);
  ClientTransaction& transaction() { return transaction_; }
  ClientSubscriptions& subscriptions() { return subscriptions_; }
  // The request being dispatched (CommandIndex and arguments), so that its
  // replies are counted and a slow one logged.
  void set_current_request(int index, std::span<const std::string_view> argv) {
    current_command_ = index;
    current_argv_ = argv;
  }
  // Closes the client's own backend connections (RESET, close): blocked
  // commands, WATCH and subscriptions end with them on the servers.
  void DropOwnBackends();

  // Connection state the local commands use.
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }
  int fd() const { return fd_; }
  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool v) { authenticated_ = v; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  int64_t created_ms() const { return created_ms_; }
  int64_t last_read_ms() const { return last_read_ms_; }
  Worker* worker() const { return worker_; }

 private:
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
  // A blocking request of the client's (BLPOP, WAIT...) is unanswered.
  bool Blocked() const;
  // Stops dispatching until every owed reply is in (request order across
  // the client's own and shared connections).
  void AwaitReplies();
  void SetReading(bool reading);
  void MarkDirty();

  Worker* worker_;
  int fd_;
  uint64_t id_;
  std::string peer_;
  std::string local_;
  int64_t created_ms_;

  Buffer input_;
  Buffer output_;
  RequestParser parser_;
  PendingReply* head_ = nullptr;
  PendingReply* tail_ = nullptr;
  uint32_t queued_ = 0;

  bool authenticated_ = false;
  std::string name_;
  bool reading_ = true;          // EPOLLIN registered
  bool want_write_ = false;      // EPOLLOUT registered
  bool paused_ = false;          // too many replies owed: input waits
  bool awaiting_replies_ = false;  // paused until every owed reply is in
  bool stop_reading_ = false;    // QUIT seen or shutting down
  bool close_after_flush_ = false;
  bool peer_closed_ = false;     // EOF read: EPOLLRDHUP would fire at once
  bool dirty_ = false;
  struct OwnConnection {
    std::unique_ptr<BackendConnection> backend;
    std::string shard_id;  // the shard whose master it was opened to
  };
  // Subscriptions of one shard being restored after their connection failed.
  struct LostSubscriptions {
    BackendConnection* restoring = nullptr;  // where they are being sent again
    int64_t next_attempt_ms = 0;
    int retry_delay_ms = 0;
  };
  void RestoreLostSubscriptions();
  // After a topology change, on servers that are no longer their shard's
  // master: subscriptions are marked lost, to be made on the master; owed
  // requests are answered -TRYAGAIN and their connection closed.
  void LeaveFormerMasters();
  const Shard* ShardById(const std::string& id) const;
  // Closes one own connection (at the end of this loop iteration); what it
  // owes is answered with an error naming `why`.
  void RetireOwnBackend(BackendConnection* backend, const std::string& why = "the client disconnected");

  std::vector<OwnConnection> own_backends_;
  std::map<std::string, LostSubscriptions> lost_subscriptions_;  // by shard id
  uint64_t topology_checked_at_ = 0;  // topology generation LeaveFormerMasters() saw
  ClientTransaction transaction_;
  ClientSubscriptions subscriptions_;
  int current_command_ = -1;
  std::span<const std::string_view> current_argv_;
  int64_t last_read_ms_ = 0;
};

}  // namespace redkube::proxy
