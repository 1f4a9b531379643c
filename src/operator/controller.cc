#include "operator/controller.h"

#include <spdlog/spdlog.h>

namespace redkube::op {

namespace res = kube::resources;
using nlohmann::json;

Controller::Controller(kube::KubeClient* client, Reconciler* reconciler, std::string watch_namespace,
                       const kube::LeaseElector* elector)
    : client_(client),
      reconciler_(reconciler),
      watch_namespace_(std::move(watch_namespace)),
      elector_(elector) {}

Controller::~Controller() { Stop(); }

bool Controller::ClusterChanged(const json& resource) {
  auto key = ResourceWatcher::OwnKey(resource);
  if (!key) return false;
  const json& meta = resource["metadata"];
  json fingerprint = {{"uid", meta.value("uid", "")},
                      {"generation", meta.value("generation", 0)},
                      {"deletion", meta.value("deletionTimestamp", "")},
                      {"finalizers", meta.value("finalizers", json::array())},
                      {"annotations", meta.value("annotations", json::object())}};
  std::string now = fingerprint.dump();
  std::lock_guard lock(seen_mu_);
  auto [it, inserted] = seen_.emplace(*key, now);
  if (inserted) return true;
  if (it->second == now) return false;
  it->second = now;
  return true;
}

void Controller::Start() {
  watchers_.push_back(std::make_unique<ResourceWatcher>(
      client_, res::kRedisClusters, watch_namespace_, "",
      [this](const json& object) -> std::optional<std::string> {
        // A DELETED event carries the last state: its key is forgotten so a
        // new cluster of the same name counts as new.
        if (!ClusterChanged(object)) return std::nullopt;
        return ResourceWatcher::OwnKey(object);
      },
      &queue_));
  for (const kube::Resource* owned :
       {&res::kStatefulSets, &res::kDeployments, &res::kServices, &res::kPods, &res::kSecrets,
        &res::kConfigMaps, &res::kPodDisruptionBudgets, &res::kHorizontalPodAutoscalers}) {
    watchers_.push_back(std::make_unique<ResourceWatcher>(
        client_, *owned, watch_namespace_, "redkube.io/cluster", &ResourceWatcher::ClusterLabelKey, &queue_));
  }
  for (auto& w : watchers_) w->Start();
  worker_ = std::thread([this] { Work(); });
}

void Controller::Stop() {
  if (stopping_.exchange(true)) return;
  // Watchers first told to stop, so a watch StopWatches() ends is not
  // started again.
  for (auto& w : watchers_) w->RequestStop();
  client_->StopWatches();
  queue_.Shutdown();
  if (worker_.joinable()) worker_.join();
  for (auto& w : watchers_) w->Stop();
}

void Controller::Work() {
  bool was_leader = false;
  while (!stopping_) {
    if (elector_ && !elector_->IsLeader()) {
      if (was_leader) spdlog::warn("lost the lease: reconciling stops until it is ours again");
      was_leader = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (!was_leader) spdlog::info("leading: reconciling ({} clusters queued)", queue_.Length());
    was_leader = true;
    auto key = queue_.Get();
    if (!key) return;
    // The lease may have been lost while Get() waited: never reconcile
    // without it (the standby may be acting already); the key waits.
    if (elector_ && !elector_->IsLeader()) {
      queue_.Done(*key);
      queue_.AddAfter(*key, std::chrono::milliseconds(1000));
      continue;
    }
    auto slash = key->find('/');
    std::string ns = key->substr(0, slash), name = key->substr(slash + 1);
    ReconcileResult result;
    try {
      result = reconciler_->Reconcile(ns, name);
    } catch (const std::exception& e) {
      // A bug must not stop every other cluster's reconciles: log, retry later.
      spdlog::error("{}: reconcile threw: {}", *key, e.what());
      result.requeue_after = std::chrono::milliseconds(10000);
    }
    queue_.Done(*key);
    if (result.requeue_after) queue_.AddAfter(*key, *result.requeue_after);
  }
}

}  // namespace redkube::op
