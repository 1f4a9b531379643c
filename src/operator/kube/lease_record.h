// The spec of a coordination.k8s.io/v1 Lease as leader election reads and
// writes it, and the election's decision as a pure function, so the rules
// (who may take the lease, when) are tested without an API server.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace redkube::kube {

struct LeaseRecord {
  std::string holder;        // spec.holderIdentity; "" when released
  int duration_s = 0;        // spec.leaseDurationSeconds
  std::string acquire_time;  // spec.acquireTime (MicroTime)
  std::string renew_time;    // spec.renewTime (MicroTime)
  int transitions = 0;       // spec.leaseTransitions
  bool operator==(const LeaseRecord&) const = default;
};

// From a Lease object (missing fields: empty/0).
LeaseRecord LeaseRecordFromLease(const nlohmann::json& lease);
// The Lease's spec for `record`.
nlohmann::json LeaseSpec(const LeaseRecord& record);

// metav1.MicroTime: "2006-01-02T15:04:05.000000Z" (UTC, microseconds).
std::string FormatMicroTime(std::chrono::system_clock::time_point time);

enum class LeaseAction {
  kCreate,    // no Lease: create it, holding it
  kTakeOver,  // released or expired: write ourselves in (with the resourceVersion precondition)
  kRenew,     // ours: refresh renewTime
  kWait,      // another holder's, and live
};

// What a contender `identity` does, given the Lease (exists/record) and how
// long it has watched the record stay unchanged. Expiry is judged by that
// local observation (the record unchanged for its leaseDurationSeconds, or
// `default_duration` when it has none), as client-go does, never by
// comparing renewTime with our clock: the holder's clock may differ from
// ours. The cost: a contender that has just started waits one full duration
// before taking a lease left by a dead holder.
LeaseAction DecideLease(bool exists, const LeaseRecord& record, std::string_view identity,
                        std::chrono::steady_clock::duration unchanged_for,
                        std::chrono::seconds default_duration);

}  // namespace redkube::kube
