// Decides what happens to each client request, from the command table and
// the proxy's routing policy table: answer it locally, send it to the shard
// owning its keys' slot, split it per shard and merge the replies (MGET,
// MSET, DEL...), fan it out to every master (DBSIZE, KEYS, SCAN...), or
// refuse it with an error that says why. One per worker thread; its scratch
// vectors are reused so that routing allocates nothing once warm.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer.h"
#include "proxy/command_table.h"
#include "proxy/reply_merger.h"
#include "proxy/subscription_router.h"

namespace redkube::proxy {

class BackendConnection;
class ClientSession;
class Worker;

class CommandDispatcher {
 public:
  explicit CommandDispatcher(Worker* worker) : worker_(worker), subscriptions_(worker) {}

  // What the client's next requests must wait for.
  enum class Order {
    kGoOn,
    // Nothing was done: the request waits until every earlier one is
    // answered, then is dispatched again.
    kRetryAfterReplies,
    // Sent on the client's own connection: the next requests wait for its
    // reply, as they would behind a blocked client on one redis-server.
    kHoldUntilReplied,
  };

  // argv: the request; raw: its bytes as received when it was multibulk
  // (forwarded as they are), empty for inline requests.
  Order Dispatch(ClientSession* client, std::span<const std::string_view> argv,
                std::string_view raw);

  // Ends the client's transaction and releases its WATCH (DISCARD, RESET,
  // EXECABORT).
  void EndTransaction(ClientSession* client);
  SubscriptionRouter* subscription_router() { return &subscriptions_; }

 private:
  // MULTI, EXEC, DISCARD, WATCH, UNWATCH, and every command while in MULTI.
  // Returns false for a request it leaves to the normal routes.
  // In subscribed mode: whether the request may run; answers it (PING) or
  // refuses it otherwise.
  bool AllowedWhileSubscribed(ClientSession* client, const CommandSpec& spec,
                              std::span<const std::string_view> argv);
  // (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE.
  bool HandleSubscription(ClientSession* client, const CommandSpec& spec, std::span<const std::string_view> argv);
  bool HandleTransaction(ClientSession* client, const CommandSpec& spec,
                         std::span<const std::string_view> argv, std::string_view raw);
  void Queue(ClientSession* client, const CommandSpec& spec, std::span<const std::string_view> argv,
             std::string_view raw);
  void Watch(ClientSession* client, const CommandSpec& spec, std::span<const std::string_view> argv,
             std::string_view raw);
  void Exec(ClientSession* client);
  // The one slot of the request's keys: -1 with no keys, -2 if they cross.
  int SlotOfKeys(const CommandSpec& spec, std::span<const std::string_view> argv);

  void RouteBySlot(ClientSession* client, const CommandSpec& spec,
                   std::span<const std::string_view> argv, std::string_view raw);
  // MGET / MSET / DEL-like: keys start at argv[1], `stride` args per key.
  void Split(ClientSession* client, std::span<const std::string_view> argv, std::string_view raw,
             int stride, ReplyMerger::Kind kind);
  void FanOut(ClientSession* client, std::span<const std::string_view> argv, std::string_view raw,
              ReplyMerger::Kind kind);
  void Scan(ClientSession* client, std::span<const std::string_view> argv);
  void Wait(ClientSession* client, std::span<const std::string_view> argv, std::string_view raw);
  void Info(ClientSession* client, std::span<const std::string_view> argv);
  // Whether the request may be served by a replica (--read-from).
  bool ReadsFromReplicas(const CommandSpec& spec) const;
  // Sends the request as it is to one shard.
  void Forward(ClientSession* client, int shard, std::span<const std::string_view> argv,
               std::string_view raw);

  Worker* worker_;
  SubscriptionRouter subscriptions_;
  std::vector<uint32_t> keys_;
  std::vector<int> part_of_shard_;
  std::vector<std::vector<uint32_t>> part_keys_;
  std::vector<int> part_shard_;
  std::vector<BackendConnection*> part_backend_;
};

// RESP for a request: raw bytes when it came as multibulk, else encoded.
void AppendRequest(Buffer* out, std::span<const std::string_view> argv,
                   std::string_view raw);

}  // namespace redkube::proxy
