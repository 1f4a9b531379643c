// Leader election among ConfigServer instances: the leader is whoever holds
// the etcd key /redkube/leader, written with create_revision == 0 and tied
// to a lease it keeps alive. When the leader dies or loses etcd, the lease
// expires within its TTL and a standby's next attempt wins. A leader that
// cannot renew steps down at once, before its lease could have expired.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "configserver/etcd_client.h"
#include "core/periodic_thread.h"

namespace redkube::configserver {

class LeaderLease {
 public:
  static constexpr const char* kKey = "/redkube/leader";

  LeaderLease(const EtcdClient* etcd, std::string identity, int ttl_seconds);
  ~LeaderLease();

  void Start();
  // Stops campaigning; a leader revokes its lease so a standby takes over now.
  void Stop();

  bool IsLeader() const { return leader_.load(std::memory_order_acquire); }
  const std::string& identity() const { return identity_; }
  // A transaction condition that holds only while we lead.
  EtcdCompare Guard() const { return {EtcdCompare::Kind::kValue, kKey, 0, identity_}; }
  // The current leader's identity as last seen ("" when unknown).
  std::string LeaderIdentity() const;
  uint64_t terms_won() const { return terms_won_.load(); }

 private:
  void Campaign();
  void StepDown(const std::string& why);

  const EtcdClient* etcd_;
  std::string identity_;
  int ttl_seconds_;
  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> terms_won_{0};
  int64_t lease_ = 0;
  std::chrono::steady_clock::time_point renewed_at_;
  mutable std::mutex mu_;
  std::string leader_seen_;  // under mu_
  // Campaigns (or renews) three times per TTL; last, so that it stops
  // before the members it uses go.
  PeriodicThread campaigner_;
};

}  // namespace redkube::configserver
