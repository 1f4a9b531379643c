#include "configserver/leader_lease.h"

#include <spdlog/spdlog.h>

namespace redkube::configserver {

// Renews three times per TTL; a standby retries as often.
LeaderLease::LeaderLease(const EtcdClient* etcd, std::string identity, int ttl_seconds)
    : etcd_(etcd),
      identity_(std::move(identity)),
      ttl_seconds_(ttl_seconds),
      campaigner_("leader-lease", std::chrono::milliseconds(ttl_seconds * 1000 / 3), [this] { Campaign(); }) {
}

LeaderLease::~LeaderLease() { Stop(); }

void LeaderLease::Start() { campaigner_.Start(); }

void LeaderLease::Stop() {
  // Once the campaigner is joined only this thread touches the lease.
  campaigner_.Stop();
  if (leader_.exchange(false)) {
    etcd_->DeleteIfValue(kKey, identity_);
    spdlog::info("stepped down as leader (stopping)");
  }
  if (lease_ != 0) etcd_->Revoke(lease_);
  lease_ = 0;
}

std::string LeaderLease::LeaderIdentity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_seen_;
}

void LeaderLease::StepDown(const std::string& why) {
  if (leader_.exchange(false)) spdlog::warn("lost leadership: {}", why);
  lease_ = 0;
}

void LeaderLease::Campaign() {
  if (IsLeader()) {
    auto ttl = etcd_->KeepAlive(lease_);
    auto now = std::chrono::steady_clock::now();
    if (!ttl.ok() || ttl.value() <= 0) {
      StepDown(ttl.ok() ? "lease expired" : ttl.error());
      return;
    }
    // If renewals were late by more than the TTL the lease may have lapsed
    // in between and someone else may have led: check the key is ours.
    auto held = etcd_->Get(kKey);
    if (!held.ok() || !held.value() || held.value()->value != identity_) {
      StepDown("the leader key is no longer ours");
      return;
    }
    renewed_at_ = now;
    return;
  }
  if (lease_ == 0) {
    auto lease = etcd_->GrantLease(ttl_seconds_);
    if (!lease.ok()) {
      spdlog::warn("cannot reach etcd to campaign: {}", lease.error());
      return;
    }
    lease_ = lease.value();
  }
  auto won = etcd_->PutIfRevision(kKey, identity_, 0, lease_);
  if (!won.ok()) {
    spdlog::warn("cannot reach etcd to campaign: {}", won.error());
    return;
  }
  if (won.value()) {
    renewed_at_ = std::chrono::steady_clock::now();
    leader_.store(true, std::memory_order_release);
    terms_won_.fetch_add(1);
    spdlog::info("became leader ({})", identity_);
    std::lock_guard<std::mutex> lock(mu_);
    leader_seen_ = identity_;
    return;
  }
  // Someone else leads; keep our lease alive so the next attempt is cheap.
  auto ttl = etcd_->KeepAlive(lease_);
  if (!ttl.ok() || ttl.value() <= 0) lease_ = 0;
  auto held = etcd_->Get(kKey);
  if (held.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    leader_seen_ = held.value() ? held.value()->value : "";
  }
}

}  // namespace redkube::configserver
