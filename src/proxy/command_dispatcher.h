// Decides what happens to each client request, from the RoutingTable:
// answer it locally, send it to the shard owning its keys' slot (through a
// second step when the slot is moving), split it per shard and merge the
// replies (MGET, MSET, DEL...; a part on a moving slot is a second step of
// its own), fan it out to every master (DBSIZE, KEYS,
// SCAN...), or refuse it with an error that says why. Transactions and INFO
// have files of their own. One per worker thread; its scratch vectors are
// reused so that routing allocates nothing once warm.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/migrating_key_step.h"
#include "proxy/request_context.h"
#include "proxy/routing_table.h"
#include "proxy/transaction_commands.h"

namespace redkube::proxy {

class CommandDispatcher : public RequestHandler {
 public:
  explicit CommandDispatcher(WorkerContext* worker)
      : migrating_key_(worker), transactions_(&migrating_key_) {}

  DispatchOrder Handle(RequestContext& ctx, std::span<const std::string_view> argv,
                       std::string_view raw) override;

 private:
  // Answers a write refused while the ConfigServer lease has run out
  // (false: not refused, an EXEC that fails anyway).
  bool RefuseWrite(RequestContext& ctx, const CommandRoute& route);
  void Run(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
           std::string_view raw);
  void RouteBySlot(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
                   std::string_view raw);
  // MGET / MSET / DEL-like: keys start at argv[1], `stride` args per key.
  void Split(RequestContext& ctx, const CommandRoute& route, std::span<const std::string_view> argv,
             std::string_view raw);
  void FanOut(RequestContext& ctx, ReplyMerger::Kind kind, std::span<const std::string_view> argv,
              std::string_view raw);
  void Scan(RequestContext& ctx, std::span<const std::string_view> argv);
  void Wait(RequestContext& ctx, std::span<const std::string_view> argv, std::string_view raw);

  MigratingKeyStep migrating_key_;
  TransactionCommands transactions_;
  std::vector<uint32_t> keys_;
  std::vector<int> part_of_shard_;
  std::vector<std::vector<uint32_t>> part_keys_;
  std::vector<int> part_shard_;  // -1: the part of a moving slot (part_slot_)
  std::vector<uint16_t> part_slot_;
  std::vector<int> key_part_;
  std::vector<uint32_t> part_fill_;
  std::vector<BackendConnection*> part_backend_;
};

// Sends the request as it is to shard `shard`'s master on the shared connection.
void Forward(RequestContext& ctx, int shard, std::span<const std::string_view> argv, std::string_view raw);

}  // namespace redkube::proxy
