// One pipelined connection from a worker thread to one redis-server. Requests
// of every client of the worker are multiplexed on it in order; replies come
// back in the same order and are handed to the ReplySink with the
// PendingReply (and part) they answer.
//
// A backend that refuses connections, or owes a reply longer than the reply
// timeout, is marked down: everything it owed is answered with a -TRYAGAIN
// error naming it, new requests are failed at once while it is down, and the
// connection is retried in the background with backoff. Other backends are
// not affected. Owned and used by one worker thread only.
//
// A fenced connection (Fence(): its shard is failing over) is down on
// purpose: what it owed is answered -TRYAGAIN naming the reason, every new
// request fails the same way at once, and nothing reconnects until
// Unfence(), which reconnects at once. So once Fence() returns, nothing of
// this connection's is in flight to the server and nothing more is sent.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "core/reply_scanner.h"
#include "core/topology.h"
#include "proxy/backend_stats.h"
#include "proxy/event_loop.h"

namespace redkube::proxy {

class AddressBook;
struct PendingReply;

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // `reply` is one complete RESP reply (or an error the proxy made up).
  virtual void OnBackendReply(PendingReply* pending, uint32_t part, std::string_view reply) = 0;
  // The connection has output to write: flush it before the loop sleeps.
  virtual void MarkBackendDirty(class BackendConnection* backend) = 0;
  // A pub/sub message (message, pmessage, smessage) on a subscribed
  // connection: it answers no request.
  virtual void OnBackendPush(class BackendConnection* backend, std::string_view message) {
    (void)backend;
    (void)message;
  }
  // A subscribed connection failed: its subscriptions are gone.
  virtual void OnSubscriptionsLost(class BackendConnection* backend) { (void)backend; }
  // A connection is being opened (after its AUTH is queued): the sink may
  // queue requests of the proxy's own ahead of every client request.
  virtual void OnBackendConnecting(class BackendConnection* backend) { (void)backend; }
};

struct BackendOptions {
  std::string password;  // sent with AUTH on connect when not empty
  int connect_timeout_ms = 1000;
  int reply_timeout_ms = 2000;  // 0: none (connections of blocking commands)
  int retry_min_ms = 50;
  int retry_max_ms = 1000;
  // Free the read and write buffers whenever nothing is owed: for the
  // clients' own connections, mostly idle between blocking commands (a
  // thousand woken BLPOP clients would otherwise keep 16 KB each).
  bool release_idle_buffers = false;
  // Log the connection going down and up. Off for the clients' own
  // connections: a thousand subscribers of a dead server are not news a
  // thousand times (the worker's shared connection tells it once).
  bool log_state_changes = true;
  // Where host names are looked up when connecting (never resolving on the
  // loop); a failed or dropped connection asks it to re-resolve the name.
  // nullptr: resolve with a blocking getaddrinfo (tests, tools).
  AddressBook* addresses = nullptr;
  // Ask CLIENT ID after every connect (its reply kept, not given to anyone):
  // for the clients' own connections, so that CLIENT UNBLOCK through the
  // proxy can name a blocked connection to its server.
  bool learn_server_client_id = false;
};

class BackendConnection : public EventHandler {
 public:
  BackendConnection(EventLoop* loop, HostPort address, const BackendOptions* options, ReplySink* sink);
  ~BackendConnection() override;

  const HostPort& address() const { return address_; }
  const std::string& name() const { return name_; }

  // Starts a request whose reply goes to (pending, part): the caller appends
  // the request's RESP bytes to the returned buffer right away.
  Buffer* StartRequest(PendingReply* pending, uint32_t part);
  // A (P|S)SUBSCRIBE or (P|S)UNSUBSCRIBE of one name: its reply carries the
  // connection's subscription count; while that is above zero, pub/sub
  // messages are told apart from replies and go to OnBackendPush.
  Buffer* StartSubscriptionRequest(PendingReply* pending);
  // Who the pushes of this connection are for (the ReplySink's business).
  void set_push_owner(void* owner) { push_owner_ = owner; }
  void* push_owner() const { return push_owner_; }
  // MONITOR was sent here: what the server sends unasked from now on (its
  // monitor lines) goes to OnBackendPush instead of failing the connection.
  void StartMonitoring() { monitoring_ = true; }
  // A request of the proxy's own (no client): its reply is only checked
  // for an error, which is logged. Append its RESP to the returned buffer.
  Buffer* StartOwnRequest();
  const BackendOptions* options() const { return options_; }
  // Where this connection counts its latency and state (may be unset).
  void set_stats(BackendStats* stats) { stats_ = stats; }

  // Writes queued requests (or fails them if the backend is down).
  void Flush();
  // Periodic: reply and connect timeouts, background reconnects.
  void Tick();

  // Fails everything owed without logging: for a connection being dropped
  // on purpose (its client left).
  void Abandon(const std::string& why = "the client disconnected");

  // See the header comment. `reason` ends the errors: "-TRYAGAIN backend
  // ADDR unavailable: REASON". Fencing a fenced connection changes nothing.
  void Fence(const std::string& reason);
  void Unfence();
  bool fenced() const { return fenced_; }
  const std::string& fence_reason() const { return fence_reason_; }

  // The RESP version the connection speaks (2 unless set): at 3, HELLO 3
  // goes right after the AUTH of every (re)connect, its reply swallowed
  // like AUTH's. Switching a live connection sends HELLO N on it at once
  // (a client that said HELLO again keeps its own connections).
  void SetProtocol(int resp);
  int protocol() const { return protocol_; }
  // The server's id of this connection (CLIENT ID), once learned on this
  // session (BackendOptions::learn_server_client_id); -1 before.
  int64_t server_client_id() const { return server_client_id_; }
  // Replies read on this connection so far: with session(), tells whether
  // a request owed at some moment has been answered since.
  uint64_t replies_read() const { return replies_read_; }
  // The number replies_read() will reach with the reply to the oldest
  // client request owed (the proxy's own AUTH, HELLO, CLIENT ID skipped);
  // 0 if none is owed.
  uint64_t OldestClientReply() const;

  size_t in_flight() const { return in_flight_.size(); }
  bool connected() const { return state_ == State::kConnected; }
  // Failed and not reconnected since.
  bool failing() const { return retry_delay_ms_ > 0; }
  bool idle() const { return in_flight_.empty() && out_.empty(); }
  // Changes whenever the connection is (re)made or fails, never repeating
  // in the process: what a server holds for a connection (a WATCH) is gone
  // once it changes.
  uint64_t session() const { return session_; }
  // Subscriptions the server holds for this connection, as it last counted.
  int64_t subscriptions() const { return subscriptions_; }

  void OnEvent(uint32_t events) override;

 private:
  enum class State { kDown, kConnecting, kConnected };
  struct InFlight {
    PendingReply* pending;  // nullptr: the proxy's own request (AUTH)
    uint32_t part;
    int64_t sent_us;
    bool subscription = false;
    bool client_id = false;  // the proxy's own CLIENT ID: its reply is server_client_id_
  };

  void Connect();
  void SendHello();
  void OnConnected();
  void ReadReplies();
  void ReadAvailableReplies();
  void WriteOut();
  // Answers everything owed with an error, closes the socket, schedules a retry.
  void Fail(const std::string& reason);
  void FailOwed(const std::string& reason);
  void UpdateInterest();

  EventLoop* loop_;
  HostPort address_;
  std::string name_;
  const BackendOptions* options_;
  ReplySink* sink_;

  State state_ = State::kDown;
  int fd_ = -1;
  int64_t connect_started_ms_ = 0;
  int64_t retry_at_ms_ = 0;
  int retry_delay_ms_ = 0;
  std::string last_error_ = "not connected yet";
  bool want_write_ = false;
  bool dirty_ = false;
  bool fenced_ = false;
  std::string fence_reason_;
  int protocol_ = 2;
  int64_t server_client_id_ = -1;
  uint64_t replies_read_ = 0;

  Buffer out_;
  Buffer in_;
  ReplyScanner scanner_;
  std::deque<InFlight> in_flight_;
  int64_t subscriptions_ = 0;  // as the server last counted them
  uint64_t session_ = NextSession();
  static uint64_t NextSession();
  void* push_owner_ = nullptr;
  bool monitoring_ = false;
  BackendStats* stats_ = nullptr;
};

}  // namespace redkube::proxy
