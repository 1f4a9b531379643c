// A request for keys of a slot in migration takes two steps, so that a key
// is never live on both shards: first the source master is asked to hand
// the keys over (MIGRATE ... KEYS, REPLACE: while the source holds a key
// its copy is the one that counts; a key it does not hold is fine, +NOKEY),
// then the request runs on the importing shard. Both steps answer one reply
// slot, so the client's replies stay in order; a failed hand-over answers
// -TRYAGAIN and the request is not run (running it on the target while the
// key stayed on the source would fork the key).
//
// One per worker: Start() opens the request and writes the first step;
// Continue() (RequestStep) runs when its reply arrives. What a request
// needs between the steps lives in its PendingReply (step_request,
// step_slot), so the path allocates nothing once warm.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pending_reply.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

class MigratingKeyStep : public RequestStep {
 public:
  // MIGRATE's I/O timeout with the target. Below the shared connections'
  // reply timeout (2 s by default), which the MIGRATE waits under.
  static constexpr int kMigrateTimeoutMs = 1000;

  explicit MigratingKeyStep(WorkerContext* worker) : worker_(worker) {}

  // The request (keys at argv[keys[i]], all in `slot`, which is migrating)
  // is answered after its keys are moved to the importing shard.
  void Start(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
             std::span<const uint32_t> keys, std::string_view raw);

  // The MIGRATE request that moves `keys` of argv to `target` (the
  // importing shard's master), appended to `out`.
  static void AppendMigrate(Buffer* out, const HostPort& target, const std::string& password,
                            std::span<const std::string_view> argv, std::span<const uint32_t> keys);

  bool Continue(PendingReply* pending, std::string_view* reply) override;

 private:
  WorkerContext* worker_;
};

}  // namespace redkube::proxy
