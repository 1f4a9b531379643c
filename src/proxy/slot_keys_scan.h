// CLUSTER COUNTKEYSINSLOT and CLUSTER GETKEYSINSLOT through the proxy.
// redis-server keeps a per-slot index of its keys only in cluster mode
// (without it, it refuses both commands), so the proxy finds a slot's keys
// itself: it SCANs the master of the shard owning the slot, COUNT
// kScanCount keys per round, and keeps those that hash to the slot.
//
// Cost, bounded: one SCAN round trip per kScanCount keys of the shard (not
// of the slot), on the shared connection to the master, at most kMaxRounds
// rounds (about a million keys visited). GETKEYSINSLOT stops as soon as it
// has the keys it was asked for. A scan that reaches the bound without
// finishing answers an error naming the bound (GETKEYSINSLOT answers the
// keys it found, if any: each is a key of the slot, and a caller that loops
// until the slot is empty asks again). Keys SCAN reports twice (it may,
// while the server's table resizes) are counted once. While the slot is
// migrating, only the owner's keys are counted: those already moved to the
// importer are not. The slot's shard must not change during the scan
// (-TRYAGAIN if it does).
//
// A multi-step request (RequestStep): each round's reply sends the next
// SCAN; the client's later requests wait until the answer is complete.
// What a scan needs between rounds lives in its PendingReply (step_target:
// the cursor and counters, and the shard's id; step_request: the keys found
// so far), so nothing outlives a client that leaves mid-scan. One per
// worker thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/pending_reply.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

class SlotKeysScan : public RequestStep {
 public:
  static constexpr int64_t kScanCount = 1000;
  static constexpr uint32_t kMaxRounds = 1000;

  // This worker's scanner (`worker`: the calling worker's context).
  static SlotKeysScan& OfWorker(WorkerContext* worker);

  // Answers the client with the number of keys in `slot` (want < 0), or
  // with at most `want` of its keys.
  void Start(RequestContext& ctx, uint16_t slot, int64_t want);

  bool Continue(PendingReply* pending, std::string_view* reply) override;

  // What a scan keeps between rounds (in its PendingReply's step_target).
  struct State;

 private:
  // Sends the SCAN of `state` for `pending` to the master of shard `shard`.
  void SendRound(PendingReply* pending, int shard, const State& state);
  // The reply from the keys found (step_request), kept in step_request.
  static std::string_view Finish(PendingReply* pending, const State& state);

  WorkerContext* worker_ = nullptr;
};

}  // namespace redkube::proxy
