// Drives one migration on the leader, step by step (docs/migration.md):
// announce a step (with its big keys held) -> wait until every live proxy
// has applied that epoch -> move the held big keys in chunks and release
// them -> one SCAN pass moving the step's keys -> flip the step's slots to
// the target together with announcing the next step. Pause, cancel and
// throttle are read from the record as it runs.
//
// Everything it needs to resume is in etcd: a runner started by the next
// leader (or after a resume) re-reads the migration and starts the current
// step's pass from the beginning (moving a key twice is harmless: the
// second MIGRATE finds it gone). Errors (a master down, a failover, etcd
// unreachable) are retried with a short backoff; the record's `message`
// says what it waits for.
//
// Runs on its own thread from Start() until the migration finishes or
// pauses, leadership is lost, or Stop(). Writes are guarded by the leader
// key.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <string>
#include <thread>

#include "configserver/cluster_store.h"
#include "configserver/key_mover.h"
#include "configserver/leader_lease.h"
#include "configserver/proxy_registry.h"
#include "configserver/slot_set.h"

namespace redkube::configserver {

struct MigratorOptions {
  KeyMoverOptions mover;
  int slots_per_step = 512;
  std::chrono::milliseconds progress_every{500};  // how often counters are written to etcd
  std::chrono::milliseconds retry_after{200};
};

class MigrationRunner {
 public:
  MigrationRunner(ClusterStore* store, const LeaderLease* lease, ProxyRegistry* proxies,
                  MigratorOptions options, std::string cluster, std::string id);
  ~MigrationRunner();

  void Start();
  void Stop();
  bool Finished() const { return finished_.load(); }

 private:
  enum class Pass { kComplete, kInterrupted, kFoundBigKeys };

  void Run();
  // One decision from the record as etcd holds it now; false when the
  // runner should end.
  bool Iterate();
  bool Confirmed(uint64_t epoch, const MigrationRecord& m);
  Status Announce(const ClusterRecord& record, const MigrationRecord& m);
  Status MoveHeldKeys(const ClusterRecord& record, const MigrationRecord& m);
  Result<Pass> MovePass(const ClusterRecord& record, const MigrationRecord& m);
  std::unique_ptr<KeyMover> MoverFor(const ClusterRecord& record, const MigrationRecord& m) const;
  // Sleeps as the throttle asks before moving `keys`/`bytes` more; false if
  // the runner should stop meanwhile.
  bool Throttle(const ::redkube::configserver::Throttle& limit, int64_t keys, int64_t bytes);
  void Count(int64_t keys, int64_t bytes);
  // Writes counters, rates and `message` when due (or `now`).
  void FlushProgress(const std::string& message, bool now);
  std::optional<StoreError> UpdateMigration(
      const std::function<void(ClusterRecord*, MigrationRecord*)>& change);
  bool ShouldStop() const;
  void Backoff();

  ClusterStore* store_;
  const LeaderLease* lease_;
  ProxyRegistry* proxies_;
  MigratorOptions options_;
  std::string cluster_;
  std::string id_;

  // Counters not yet written to the record, and recent samples for rates.
  int64_t unflushed_keys_ = 0;
  int64_t unflushed_bytes_ = 0;
  std::chrono::steady_clock::time_point flushed_at_;
  struct Sample {
    std::chrono::steady_clock::time_point at;
    int64_t keys;
    int64_t bytes;
  };
  std::deque<Sample> samples_;
  // The throttle's window.
  ::redkube::configserver::Throttle throttle_seen_;
  std::chrono::steady_clock::time_point throttle_since_;
  int64_t throttle_keys_ = 0;
  int64_t throttle_bytes_ = 0;
  // The step epoch whose pass completed (only the flip is left).
  uint64_t pass_done_for_ = 0;
  // Keys a failed batch left copied but not deleted on the source, and the
  // target master they were copied to (KeyMover::unsettled()).
  std::vector<std::string> unsettled_;
  std::string unsettled_target_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace redkube::configserver
