// What a request is handed: the worker-wide services it may use (routing,
// shared connections, options, stats) and the client it came from (its
// state, its reply queue, its own connections). The dispatcher, the local
// commands, transactions and subscriptions see a client only through this,
// never through the ClientSession or the Worker.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/buffer.h"
#include "proxy/backend_connection.h"
#include "proxy/client_state.h"
#include "proxy/event_loop.h"
#include "proxy/pending_reply.h"
#include "proxy/request_recorder.h"
#include "proxy/slot_router.h"

namespace redkube::proxy {

class BackendPool;
class ClientBackends;
class ClientSession;
class ProxyServer;
class ReplyQueue;
struct ProxyOptions;
struct ProxyStats;

// One per worker thread, owned by the Worker, alive as long as it.
struct WorkerContext {
  EventLoop* loop = nullptr;
  ProxyServer* server = nullptr;  // process-wide: scripts, slow log, commandstats
  const ProxyOptions* options = nullptr;
  ProxyStats* stats = nullptr;
  PendingReplyPool* pending_pool = nullptr;
  RequestRecorder* recorder = nullptr;
  BackendPool* backends = nullptr;  // the shared connections
  ReplySink* sink = nullptr;        // where the clients' own connections deliver
  int worker_index = 0;             // this worker's place in ProxyServer::workers()
  // Every client of this worker (CLIENT LIST, KILL), closed ones included
  // until the end of the loop iteration.
  const std::unordered_map<ClientSession*, std::unique_ptr<ClientSession>>* clients = nullptr;
  const BackendOptions* own_backend_options = nullptr;
  // The routing of the topology the worker applied last, and a counter that
  // moves whenever it changes.
  std::shared_ptr<const SlotRouter> router;
  uint64_t topology_generation = 0;

  // Kept by the worker between loop iterations:
  // clients with connections of their own (ticked for timeouts and upkeep),
  std::unordered_set<ClientBackends*> with_own_backends;
  // connections closed during this iteration (one may still be on a dirty
  // list), freed at its end,
  std::vector<std::unique_ptr<BackendConnection>> retired;
  // clients to flush, resume or free before the loop sleeps,
  std::vector<ClientSession*> dirty_clients;
  std::vector<ClientSession*> resumable_clients;
  std::vector<ClientSession*> closed_clients;
  // clients parked on a held key (kWaitForTopology), woken by a new
  // topology or their hold deadline,
  std::vector<ClientSession*> parked_clients;
  // and socket reads of clients that have no partial request.
  Buffer read_scratch;
};

struct RequestContext {
  WorkerContext& worker;
  ClientState& client;
  ReplyQueue& replies;
  ClientBackends& own;  // the client's own server connections

  const SlotRouter& router() const { return *worker.router; }
};

// What the client's next requests must wait for after one is dispatched.
enum class DispatchOrder {
  kGoOn,
  // Nothing was done: the request waits until every earlier one is
  // answered, then is dispatched again.
  kRetryAfterReplies,
  // Sent on the client's own connection: the next requests wait for its
  // reply, as they would behind a blocked client on one redis-server.
  kHoldUntilReplied,
  // Nothing was done: the request touches a key the mover holds. It waits
  // (parked, the client's later requests behind it) until the worker
  // applies a newer topology or the client's hold deadline passes, then is
  // dispatched again (and answered -TRYAGAIN if the deadline passed).
  kWaitForTopology,
};

// Takes each parsed request of a client (the CommandDispatcher).
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // argv: the request; raw: its bytes as received when it was multibulk
  // (forwarded as they are), empty for inline requests.
  virtual DispatchOrder Handle(RequestContext& ctx, std::span<const std::string_view> argv,
                               std::string_view raw) = 0;
};

}  // namespace redkube::proxy
