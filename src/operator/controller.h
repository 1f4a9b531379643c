// The operator's control loop: watches RedisClusters and the kinds it owns,
// queues the clusters they belong to, and reconciles one key at a time —
// only while it leads (LeaseElector), so two operator replicas never act on
// one cluster at once; the standby's watches keep running so it takes over
// with an up-to-date queue.
//
// Watched: redisclusters (every change of spec, deletion or finalizers; the
// operator's own status writes are filtered out so they do not wake it), and
// by the label redkube.io/cluster: statefulsets, deployments, services,
// pods, secrets, configmaps, poddisruptionbudgets, horizontalpodautoscalers
// (an object deleted or edited by hand is put back at once).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "operator/kube/kube_client.h"
#include "operator/kube/lease_elector.h"
#include "operator/reconciler.h"
#include "operator/resource_watcher.h"
#include "operator/work_queue.h"

namespace redkube::op {

class Controller {
 public:
  // `watch_namespace` empty: every namespace. `elector` null: always leads.
  Controller(kube::KubeClient* client, Reconciler* reconciler, std::string watch_namespace,
             const kube::LeaseElector* elector);
  ~Controller();

  void Start();
  // Ends the watches and the worker; a reconcile in flight finishes first.
  void Stop();

  // Whether a RedisCluster event is worth a reconcile: a new or deleted
  // resource, or a change of generation (spec), deletion, finalizers or
  // annotations. A status-only update (our own writes) is not. Remembers
  // what it saw per key; thread-safe.
  bool ClusterChanged(const nlohmann::json& resource);

 private:
  void Work();

  kube::KubeClient* client_;
  Reconciler* reconciler_;
  std::string watch_namespace_;
  const kube::LeaseElector* elector_;
  WorkQueue queue_;
  std::vector<std::unique_ptr<ResourceWatcher>> watchers_;
  std::thread worker_;
  std::atomic<bool> stopping_{false};

  std::mutex seen_mu_;
  std::map<std::string, std::string> seen_;  // key -> what ClusterChanged compares
};

}  // namespace redkube::op
