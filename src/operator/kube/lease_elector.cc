#include "operator/kube/lease_elector.h"

#include <spdlog/spdlog.h>

namespace redkube::kube {

using nlohmann::json;

LeaseElector::LeaseElector(KubeClient* client, std::string ns, std::string lease_name, std::string identity,
                           std::chrono::seconds lease_duration)
    : client_(client),
      ns_(std::move(ns)),
      lease_name_(std::move(lease_name)),
      identity_(std::move(identity)),
      lease_duration_(lease_duration < std::chrono::seconds(1) ? std::chrono::seconds(1) : lease_duration) {}

LeaseElector::~LeaseElector() { Stop(); }

void LeaseElector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaseElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!leader_.exchange(false)) return;
  // Release: only if the lease is still ours at the version we read, so a
  // release never clears another holder's claim.
  auto lease = client_->Get(resources::kLeases, ns_, lease_name_);
  if (!lease.ok()) {
    spdlog::warn("lease {}/{}: not released: {}", ns_, lease_name_, lease.error());
    return;
  }
  LeaseRecord record = LeaseRecordFromLease(lease.value());
  if (record.holder != identity_) return;
  record.holder.clear();
  record.duration_s = 1;
  record.renew_time = FormatMicroTime(std::chrono::system_clock::now());
  std::string rv = lease->value("/metadata/resourceVersion"_json_pointer, std::string());
  auto released = client_->Replace(resources::kLeases, ns_, lease_name_, LeaseObject(record, rv));
  if (!released.ok()) spdlog::warn("lease {}/{}: not released: {}", ns_, lease_name_, released.error());
}

Status LeaseElector::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void LeaseElector::SetError(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(status);
}

void LeaseElector::Run() {
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(lease_duration_) / 3;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    TryOnce();
    lock.lock();
    wake_.wait_for(lock, period, [this] { return stopping_; });
  }
}

json LeaseElector::LeaseObject(const LeaseRecord& record, const std::string& resource_version) const {
  json object = {{"apiVersion", "coordination.k8s.io/v1"},
                 {"kind", "Lease"},
                 {"metadata", {{"name", lease_name_}, {"namespace", ns_}}},
                 {"spec", LeaseSpec(record)}};
  if (!resource_version.empty()) object["metadata"]["resourceVersion"] = resource_version;
  return object;
}

bool LeaseElector::IsLeader() const {
  if (!leader_.load()) return false;
  const auto renewed = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(renewed_at_ns_.load()));
  return std::chrono::steady_clock::now() - renewed < lease_duration_ * 2 / 3;
}

void LeaseElector::TryOnce() {
  auto now_steady = std::chrono::steady_clock::now();
  auto lease = client_->Get(resources::kLeases, ns_, lease_name_);
  bool exists = lease.ok();
  if (!lease.ok() && lease.status().code() != 404) {
    // Cannot tell who holds it: stop acting as leader now.
    if (leader_.exchange(false))
      spdlog::warn("lease {}/{}: lost leadership: {}", ns_, lease_name_, lease.error());
    SetError(lease.status());
    return;
  }
  LeaseRecord record = exists ? LeaseRecordFromLease(lease.value()) : LeaseRecord{};
  std::string rv = exists ? lease->value("/metadata/resourceVersion"_json_pointer, std::string()) : "";
  if (!observed_ || record != observed_record_) {
    observed_ = true;
    observed_record_ = record;
    observed_at_ = now_steady;
  }

  LeaseAction action = DecideLease(exists, record, identity_, now_steady - observed_at_, lease_duration_);
  if (action == LeaseAction::kWait) {
    if (leader_.exchange(false))
      spdlog::warn("lease {}/{}: {} holds it now", ns_, lease_name_, record.holder);
    SetError(Status::Ok());
    return;
  }

  std::string now = FormatMicroTime(std::chrono::system_clock::now());
  LeaseRecord next = record;
  next.duration_s = static_cast<int>(lease_duration_.count());
  next.renew_time = now;
  if (action != LeaseAction::kRenew) {
    next.holder = identity_;
    next.acquire_time = now;
    if (action == LeaseAction::kTakeOver) next.transitions = record.transitions + 1;
  }
  Result<json> written = action == LeaseAction::kCreate
                             ? client_->Create(resources::kLeases, ns_, LeaseObject(next, ""))
                             : client_->Replace(resources::kLeases, ns_, lease_name_, LeaseObject(next, rv));
  if (!written.ok()) {
    // 409: another contender wrote first; anything else: cannot be sure.
    if (leader_.exchange(false)) {
      spdlog::warn("lease {}/{}: lost leadership: {}", ns_, lease_name_, written.error());
    }
    SetError(written.status());
    return;
  }
  observed_record_ = LeaseRecordFromLease(written.value());
  observed_at_ = now_steady;
  renewed_at_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now_steady.time_since_epoch()).count();
  SetError(Status::Ok());
  if (!leader_.exchange(true)) {
    spdlog::info("lease {}/{}: {} is the leader (transitions {})", ns_, lease_name_, identity_,
                 next.transitions);
  }
}

}  // namespace redkube::kube
