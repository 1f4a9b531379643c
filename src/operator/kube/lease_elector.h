// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// operator replicas exactly one reconciles at a time.
//
// A thread, every lease_duration/3: reads the Lease; creates it when absent,
// takes it over when released or expired (see DecideLease), renews it when
// it holds it. Every write carries the resourceVersion it read (create: the
// name must not exist), so two contenders that both see an expired lease
// cannot both win: the API server refuses the second write with 409.
// IsLeader() turns false as soon as a read or renewal fails or another
// holder is seen: a leader that cannot reach the API server stops acting
// before anyone else may take over (they wait a full lease duration).
//
// Thread-safety: IsLeader() from any thread; Start()/Stop() from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/lease_record.h"

namespace redkube::kube {

class LeaseElector {
 public:
  // `client` must outlive the elector. `identity`: unique per contender (the
  // pod name).
  LeaseElector(KubeClient* client, std::string ns, std::string lease_name, std::string identity,
               std::chrono::seconds lease_duration = std::chrono::seconds(15));
  ~LeaseElector();  // Stop()s
  LeaseElector(const LeaseElector&) = delete;
  LeaseElector& operator=(const LeaseElector&) = delete;

  void Start();
  // Ends the thread and, when leading, releases the lease (holderIdentity
  // emptied) so a standby takes over at its next attempt rather than after
  // the lease expires. IsLeader() is false before the release is written.
  void Stop();

  // True only while the last successful renewal is recent (two thirds of
  // the lease duration, timed from before that write was sent): a call to
  // an API server that hangs must not leave us acting as leader after the
  // lease has expired and a standby took over.
  bool IsLeader() const;
  const std::string& identity() const { return identity_; }
  // The last failure of a Lease read or write (ok when the last attempt
  // worked): for logs and status.
  Status last_error() const;

  // One attempt (what the thread does each period); public for tests that
  // step the election themselves instead of running the thread.
  void TryOnce();

 private:
  void Run();
  void SetError(Status status);
  nlohmann::json LeaseObject(const LeaseRecord& record, const std::string& resource_version) const;

  KubeClient* const client_;
  const std::string ns_;
  const std::string lease_name_;
  const std::string identity_;
  const std::chrono::seconds lease_duration_;

  std::atomic<bool> leader_{false};
  std::atomic<int64_t> renewed_at_ns_{0};  // steady clock, when the last successful write was sent
  // What the thread last saw, and since when (steady clock): the expiry rule.
  bool observed_ = false;
  LeaseRecord observed_record_;
  std::chrono::steady_clock::time_point observed_at_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  Status last_error_ = Status::Ok();
  std::thread thread_;
};

}  // namespace redkube::kube
