// Reconciles one RedisCluster (docs/operator.md, "Reconcile"): level-
// triggered, so it reads the resource and what exists each time and does
// the next thing, whatever event woke it; idempotent, so a second call with
// nothing changed writes nothing (server-side applies of the same objects
// and a status write skipped when equal).
//
//   deleted -> tell the ConfigServer, drop the finalizer (owner references
//              make the garbage collector delete the rest)
//   paused  -> status only
//   else    -> finalizer; record the spec it is built from; step the
//              creation workflow (runtime/create_workflow.h) on the
//              KubePlatform; write status (phase, conditions, ready shards,
//              epoch, the proxy Service).
//
// Thread-compatible: one reconcile at a time (the controller's single
// worker).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "operator/kube/kube_client.h"
#include "operator/object_builders.h"
#include "operator/redis_cluster.h"

namespace redkube::op {

struct ReconcileResult {
  // Call again after this long even if no event comes (a workflow waiting,
  // the periodic status refresh); nothing: wait for an event.
  std::optional<std::chrono::milliseconds> requeue_after;
};

class Reconciler {
 public:
  Reconciler(kube::KubeClient* client, ImagesSpec image_defaults);

  ReconcileResult Reconcile(const std::string& ns, const std::string& name);

  // How long a deleted cluster waits for its ConfigServer to answer before
  // the finalizer goes anyway (the ConfigServer may be gone already).
  static constexpr std::chrono::seconds kDeregisterPatience{60};

 private:
  ReconcileResult Finalize(const nlohmann::json& resource, const ClusterIdentity& id);
  // The spec's shape fields as first built (annotation redkube.io/built-spec),
  // written on first sight in one patch with the finalizer; an error if the
  // write failed.
  Result<nlohmann::json> BuiltShape(const nlohmann::json& resource, const ClusterIdentity& id);
  // NAME-auth's values, generated when the Secret does not exist yet.
  Result<AuthValues> ReadOrGenerateAuth(const ClusterIdentity& id);
  Status WriteStatus(const nlohmann::json& resource, const ClusterIdentity& id,
                     const RedisClusterStatus& status);
  void Event(const nlohmann::json& resource, std::string_view type, std::string_view reason,
             const std::string& message);

  kube::KubeClient* client_;
  ImagesSpec image_defaults_;
};

}  // namespace redkube::op
