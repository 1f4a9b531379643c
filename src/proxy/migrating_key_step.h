// A request for keys of a slot in migration takes two steps, so that a key
// is never live on both shards: first the source master is asked to hand
// the keys over (MIGRATE ... KEYS; a key it does not hold is fine, +NOKEY),
// then the request runs on the importing shard. Both steps answer one reply
// slot, so the client's replies stay in order; a failed hand-over answers
// -TRYAGAIN and the request is not run (running it on the target while the
// key stayed on the source would fork the key).
//
// No REPLACE (docs/migration.md): a key the target already holds is the
// one that counts. It got there by a move (the mover copies a key, then
// deletes it on the source, so for a moment both hold it) and may have been
// written since; the source's copy can only be older (one a source
// failover brought back before its deletion reached the replica). The
// target then refuses that key (BUSYKEY; the keys that did move are
// deleted on the source as usual) and the request runs on the target all
// the same: BUSYKEY means "already moved". The source's stale copy is the
// mover's to delete.
//
// Order: the second step is sent only when the first answers, so a request
// the client sends after it could reach the importer first (after a flip,
// or a fan-out such as FLUSHALL). While a client has a first step in
// flight its next requests therefore wait (DispatchOrder::kRetryAfterReplies):
// a pipeline on a moving slot runs one request per round trip, for the
// length of the move, and only for that client.
//
// The MIGRATE runs on the shared connection to the source, within its reply
// timeout: a key too big to move in that time is the mover's to move
// (in chunks); here it fails the hand-over (-TRYAGAIN) rather than stall
// the shared connection.
//
// One per worker: Start() opens the request and writes the first step;
// Continue() (RequestStep) runs when its reply arrives. What a request
// needs between the steps lives in its PendingReply (step_request,
// step_slot), so the path allocates nothing once warm.
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pending_reply.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

// Held keys: a key the mover is moving in chunks (the topology's
// held_keys) must not be touched, neither moved by a request's MIGRATE nor
// written on either side. A request of a migrating slot calls this with
// its keys first: when one is held it returns true, having either marked
// the client held (the dispatcher then parks the request until the worker
// applies a newer topology, DispatchOrder::kWaitForTopology) or, once the
// client's hold deadline (--hold-timeout-ms after the first try) has
// passed, answered -TRYAGAIN. False: no key is held, go on. Allocates
// nothing; the lookup runs only for slots with held keys.
bool WaitIfHeld(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
                std::span<const uint32_t> keys);

class MigratingKeyStep : public RequestStep {
 public:
  explicit MigratingKeyStep(WorkerContext* worker) : worker_(worker) {}

  // MIGRATE's I/O timeout with the target: half the shared connections'
  // reply timeout (which the MIGRATE waits under), 1 s when they have none.
  static int MigrateTimeoutMs(int reply_timeout_ms) {
    return reply_timeout_ms > 0 ? std::max(1, reply_timeout_ms / 2) : 1000;
  }

  // The request (keys at argv[keys[i]], all in `slot`, which is migrating)
  // is answered after its keys are moved to the importing shard.
  void Start(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
             std::span<const uint32_t> keys, std::string_view raw);
  // A transaction on a migrating slot: every key its commands name
  // (argv[keys[i]], all in `slot`) is moved first, then `queued` (the RESP
  // of its `count` commands) runs on the importer between MULTI and EXEC.
  // The client gets EXEC's reply (or the hand-over's -TRYAGAIN).
  void StartTransaction(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
                        std::span<const uint32_t> keys, std::string_view queued, uint32_t count);

  // The MIGRATE request that moves `keys` of argv to `target` (the
  // importing shard's master), appended to `out`.
  static void AppendMigrate(Buffer* out, const HostPort& target, const std::string& password, int timeout_ms,
                            std::span<const std::string_view> argv, std::span<const uint32_t> keys);

  // Part `part` of a split request (`parent`, a merged slot of the
  // client's): the keys at argv[keys[i]] (each with `stride` arguments, as
  // MSET's key value), all of migrating `slot`, are moved, then argv[0] of
  // them runs on the importer; its reply (or the hand-over's -TRYAGAIN) is
  // the part's.
  void StartPart(RequestContext& ctx, PendingReply* parent, uint32_t part, uint16_t slot,
                 std::span<const std::string_view> argv, std::span<const uint32_t> keys, size_t stride);

  // Whether a MIGRATE reply says a key is already on the target: it is
  // the one that counts, so the request goes on there.
  static bool IsBusyKey(std::string_view reply);

  bool Continue(PendingReply* pending, std::string_view* reply) override;

 private:
  // Opens the request's slot and writes the first step; the second step's
  // bytes go in the slot's step_request.
  PendingReply* Open(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
                     std::span<const uint32_t> keys);
  // Makes `p` a two-step request of the client's and writes its MIGRATE.
  void WriteFirstStep(RequestContext& ctx, PendingReply* p, uint16_t slot,
                      std::span<const std::string_view> argv, std::span<const uint32_t> keys);

  WorkerContext* worker_;
};

}  // namespace redkube::proxy
