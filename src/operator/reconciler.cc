#include "operator/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "operator/kube/kube_config.h"
#include "operator/kube_platform.h"
#include "operator/object_names.h"
#include "operator/secret_value.h"
#include "runtime/configserver_client.h"
#include "runtime/create_workflow.h"

namespace redkube::op {

namespace res = kube::resources;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr char kBuiltSpecAnnotation[] = "redkube.io/built-spec";
// While the creation workflow waits (pods starting, replicas syncing).
constexpr milliseconds kWaitingRequeue{2000};
// After a failed step: the same step may work later (a ConfigServer
// failing over, a registration refused until a failover is done).
constexpr milliseconds kFailedRequeue{5000};
// A created cluster's status (epoch, readiness) is refreshed this often even
// when no watched object changes.
constexpr milliseconds kResyncRequeue{30000};

bool HasFinalizer(const json& resource) {
  for (const auto& f : resource["metadata"].value("finalizers", json::array())) {
    if (f == kFinalizer) return true;
  }
  return false;
}

// The fields a later change of which is not supported yet (scaling,
// upgrades, storage and control-plane moves land later, as workflows): the
// cluster keeps what it was built with. Some would half-apply (the API
// server refuses a StatefulSet's new volumeClaimTemplates; a new password
// would reach the proxies but not the running servers; a ConfigServer moved
// to another etcd would find no record).
json ShapeOf(const RedisClusterSpec& spec) {
  return {{"shards", spec.shards},
          {"replicasPerShard", spec.replicas_per_shard},
          {"images",
           {{"server", spec.images.server},
            {"proxy", spec.images.proxy},
            {"configserver", spec.images.configserver},
            {"etcd", spec.images.etcd}}},
          {"storage", {{"className", spec.storage.class_name}, {"size", spec.storage.size}}},
          {"passwordSecret", {{"name", spec.password_secret.name}, {"key", spec.password_secret.key}}},
          {"etcd",
           {{"members", spec.etcd.members},
            {"endpoints", spec.etcd.endpoints},
            {"storageSize", spec.etcd.storage_size}}}};
}

// `spec` with the built shape's fields put back; the differences, for the
// condition ("spec.shards 3 -> 5").
std::string ApplyBuiltShape(const json& built, RedisClusterSpec* spec) {
  std::string changes;
  auto keep = [&](const std::string& field, const json& was, auto* value) {
    using T = std::remove_pointer_t<decltype(value)>;
    if (was.is_null()) return;  // recorded by an older operator: nothing to hold
    T kept = was.get<T>();
    if (kept == *value) return;
    if (!changes.empty()) changes += ", ";
    changes += field + " " + json(kept).dump() + " -> " + json(*value).dump();
    *value = kept;
  };
  auto at = [&](const char* a, const char* b = nullptr) -> json {
    json v = built.value(a, json());
    if (b == nullptr) return v;
    return v.is_object() ? v.value(b, json()) : json();
  };
  keep("spec.shards", at("shards"), &spec->shards);
  keep("spec.replicasPerShard", at("replicasPerShard"), &spec->replicas_per_shard);
  keep("spec.images.server", at("images", "server"), &spec->images.server);
  keep("spec.images.proxy", at("images", "proxy"), &spec->images.proxy);
  keep("spec.images.configserver", at("images", "configserver"), &spec->images.configserver);
  keep("spec.images.etcd", at("images", "etcd"), &spec->images.etcd);
  keep("spec.storage.className", at("storage", "className"), &spec->storage.class_name);
  keep("spec.storage.size", at("storage", "size"), &spec->storage.size);
  keep("spec.passwordSecret.name", at("passwordSecret", "name"), &spec->password_secret.name);
  keep("spec.passwordSecret.key", at("passwordSecret", "key"), &spec->password_secret.key);
  keep("spec.etcd.members", at("etcd", "members"), &spec->etcd.members);
  keep("spec.etcd.endpoints", at("etcd", "endpoints"), &spec->etcd.endpoints);
  keep("spec.etcd.storageSize", at("etcd", "storageSize"), &spec->etcd.storage_size);
  return changes;
}

}  // namespace

Reconciler::Reconciler(kube::KubeClient* client, ImagesSpec image_defaults)
    : client_(client), image_defaults_(std::move(image_defaults)) {}

void Reconciler::Event(const json& resource, std::string_view type, std::string_view reason,
                       const std::string& message) {
  if (Status s = client_->CreateEvent(resource, type, reason, message); !s.ok()) {
    spdlog::warn("event {}: {}", reason, s.message());
  }
}

Result<json> Reconciler::BuiltShape(const json& resource, const ClusterIdentity& id) {
  const json annotations = resource["metadata"].value("annotations", json::object());
  json built;
  if (auto it = annotations.find(kBuiltSpecAnnotation); it != annotations.end() && it->is_string()) {
    built = json::parse(it->get<std::string>(), nullptr, false);
  }
  const bool have_finalizer = HasFinalizer(resource);
  if (built.is_object() && have_finalizer) return built;

  json patch = {{"metadata", {{"resourceVersion", resource["metadata"]["resourceVersion"]}}}};
  if (!have_finalizer) {
    json finalizers = resource["metadata"].value("finalizers", json::array());
    finalizers.push_back(kFinalizer);
    patch["metadata"]["finalizers"] = finalizers;
  }
  if (!built.is_object()) {
    auto spec = ParseSpec(resource, image_defaults_);
    if (!spec.ok()) return spec.status();
    built = ShapeOf(spec.value());
    // The annotation was removed (or replaced) on a cluster built before:
    // the shard count it was built with is in the status, never taken from
    // a spec that may have changed since.
    const int built_shards = resource.value("status", json::object()).value("shards", 0);
    if (built_shards > 0) built["shards"] = built_shards;
    patch["metadata"]["annotations"] = {{kBuiltSpecAnnotation, built.dump()}};
  }
  // One merge patch, the resourceVersion a precondition (a compare-and-swap:
  // a finalizer list another writer changed meanwhile is not overwritten).
  auto patched = client_->MergePatch(res::kRedisClusters, id.namespace_name, id.name, patch);
  if (!patched.ok()) return Status::Error("add the finalizer and the built spec: " + patched.error());
  return built;
}

Result<AuthValues> Reconciler::ReadOrGenerateAuth(const ClusterIdentity& id) {
  auto secret = client_->Get(res::kSecrets, id.namespace_name, AuthSecretName(id.name));
  AuthValues values;
  if (secret.ok()) {
    const json data = secret->value("data", json::object());
    auto password = kube::Base64Decode(data.value(std::string(kPasswordKey), ""));
    auto api_token = kube::Base64Decode(data.value(std::string(kApiTokenKey), ""));
    if (!password.ok() || !api_token.ok()) return Status::Error("the auth Secret's data is not base64");
    values.password = password.value();
    values.api_token = api_token.value();
  } else if (secret.status().code() != 404) {
    return Status::Error("read the auth Secret: " + secret.error());
  }
  // Generated once: the Secret is applied with them in this reconcile, and
  // every later one reads them back (never rotated under running pods).
  if (values.password.empty()) {
    auto generated = GenerateSecretValue();
    if (!generated.ok()) return generated.status();
    values.password = generated.value();
  }
  if (values.api_token.empty()) {
    auto generated = GenerateSecretValue();
    if (!generated.ok()) return generated.status();
    values.api_token = generated.value();
  }
  return values;
}

Status Reconciler::WriteStatus(const json& resource, const ClusterIdentity& id,
                               const RedisClusterStatus& status) {
  json wanted = status.ToJson();
  if (resource.value("status", json::object()) == wanted) return Status::Ok();  // nothing changed
  auto applied =
      client_->ApplyStatus(res::kRedisClusters, id.namespace_name, id.name, StatusApplyBody(id, status));
  return applied.ok() ? Status::Ok() : Status::Error("write status: " + applied.error());
}

ReconcileResult Reconciler::Finalize(const json& resource, const ClusterIdentity& id) {
  if (!HasFinalizer(resource)) return {};
  // The token as stored: a generated one could never be accepted.
  auto secret = client_->Get(res::kSecrets, id.namespace_name, AuthSecretName(id.name));
  Result<AuthValues> auth =
      Status::Error("no auth Secret " + AuthSecretName(id.name) + (secret.ok() ? "" : ": " + secret.error()));
  if (secret.ok()) auth = ReadOrGenerateAuth(id);
  bool told = false;
  std::string why;
  if (auth.ok()) {
    RedisClusterSpec spec;  // only the ConfigServer Service is read
    KubePlatform platform(client_, id, spec, auth.value());
    auto plane = platform.ObserveControlPlane();
    if (plane.ok()) {
      runtime::ConfigServerClient configserver(plane.value());
      auto reply = configserver.Call("DELETE", "/v1/clusters/" + id.name);
      if (reply.ok() && (reply->status / 100 == 2 || reply->status == 404)) {
        told = true;
      } else {
        why = reply.ok() ? "answered " + std::to_string(reply->status) + " " + reply->body.dump()
                         : reply.error();
      }
    } else {
      why = plane.error();
      // No ConfigServer Service: nothing to tell (it was never made, or
      // was deleted by hand).
      told = plane.status().code() == 404;
    }
  } else {
    why = auth.error();
  }
  if (!told) {
    // Wait a while for a ConfigServer that is restarting; do not hold the
    // deletion for ever on one that is gone. Timed from the deletion itself.
    RedisClusterStatus status = RedisClusterStatus::FromJson(resource.value("status", json::object()));
    auto now = std::chrono::system_clock::now();
    const std::string since = resource["metadata"].value("deletionTimestamp", "");
    // RFC 3339 in UTC with seconds compares as text.
    bool patient = since.empty() || since > FormatRfc3339(now - kDeregisterPatience);
    if (patient) {
      status.phase = Phase::kDeleting;
      SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kTrue, "Deleting",
                   "telling the ConfigServer to forget the cluster: " + why, now, id.generation);
      (void)WriteStatus(resource, id, status);
      spdlog::info("{}/{}: deregister: {} (retrying)", id.namespace_name, id.name, why);
      return {kFailedRequeue};
    }
    Event(resource, "Warning", "DeregisterSkipped",
          "the ConfigServer did not answer in " + std::to_string(kDeregisterPatience.count()) + " s: " + why);
  } else {
    Event(resource, "Normal", "Deregistered", "the ConfigServer forgot cluster " + id.name);
  }
  json finalizers = json::array();
  for (const auto& f : resource["metadata"].value("finalizers", json::array())) {
    if (f != kFinalizer) finalizers.push_back(f);
  }
  json patch = {{"metadata",
                 {{"finalizers", finalizers}, {"resourceVersion", resource["metadata"]["resourceVersion"]}}}};
  if (auto patched = client_->MergePatch(res::kRedisClusters, id.namespace_name, id.name, patch);
      !patched.ok()) {
    spdlog::warn("{}/{}: remove the finalizer: {}", id.namespace_name, id.name, patched.error());
    return {kFailedRequeue};
  }
  spdlog::info("{}/{}: finalized", id.namespace_name, id.name);
  return {};
}

ReconcileResult Reconciler::Reconcile(const std::string& ns, const std::string& name) {
  auto resource = client_->Get(res::kRedisClusters, ns, name);
  if (!resource.ok()) {
    if (resource.status().code() == 404) return {};  // deleted: the garbage collector has the rest
    spdlog::warn("{}/{}: read: {}", ns, name, resource.error());
    return {kFailedRequeue};
  }
  const json& rc = resource.value();
  auto now = std::chrono::system_clock::now();
  auto parsed_id = ParseIdentity(rc);
  if (!parsed_id.ok()) {
    Event(rc, "Warning", "InvalidName", parsed_id.error());
    return {};
  }
  const ClusterIdentity id = parsed_id.value();
  if (rc["metadata"].contains("deletionTimestamp")) return Finalize(rc, id);

  RedisClusterStatus status = RedisClusterStatus::FromJson(rc.value("status", json::object()));
  status.observed_generation = id.generation;
  auto spec_or = ParseSpec(rc, image_defaults_);
  if (!spec_or.ok()) {
    // A spec the schema let through but that cannot be built: say why, and
    // wait for the user's next edit (it wakes us).
    status.phase = status.shards > 0 ? Phase::kDegraded : Phase::kCreating;
    SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kFalse, "InvalidSpec",
                 spec_or.error(), now, id.generation);
    (void)WriteStatus(rc, id, status);
    Event(rc, "Warning", "InvalidSpec", spec_or.error());
    return {};
  }
  auto built = BuiltShape(rc, id);
  if (!built.ok()) {
    spdlog::warn("{}/{}: {}", ns, name, built.error());
    return {kFailedRequeue};
  }
  RedisClusterSpec spec = spec_or.value();
  const std::string unsupported = ApplyBuiltShape(built.value(), &spec);

  if (spec.paused) {
    status.phase = Phase::kPaused;
    SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kFalse, "Paused",
                 "spec.paused is set: nothing is changed until it is cleared", now, id.generation);
    (void)WriteStatus(rc, id, status);
    return {};
  }

  auto auth = ReadOrGenerateAuth(id);
  if (!auth.ok()) {
    spdlog::warn("{}/{}: {}", ns, name, auth.error());
    return {kFailedRequeue};
  }
  KubePlatform platform(client_, id, spec, auth.value());
  runtime::ClusterShape shape{id.name,
                              spec.shards,
                              spec.replicas_per_shard,
                              spec.proxy.min_replicas,
                              "",
                              /*record_must_exist=*/status.shards > 0};
  // Progress reaches the user as status and Events (below), not as lines.
  runtime::CreateWorkflow workflow(&platform, shape, [](const std::string&) {});
  runtime::StepResult step = workflow.Step();
  const bool created = status.shards > 0;

  // Readiness of what runs, for status (cheap reads of pods).
  int ready_shards = 0;
  for (int k = 0; k < spec.shards; ++k) {
    auto readiness = platform.MembersReady(ShardId(k));
    if (readiness.ok() && readiness->ready) ++ready_shards;
  }
  status.ready_shards = ready_shards;
  if (auto address = platform.ProxyServiceAddress(); address.ok()) status.proxy_service = address.value();
  if (workflow.control_plane()) {
    runtime::ConfigServerClient configserver(*workflow.control_plane());
    if (auto view = configserver.GetCluster(id.name); view.ok()) {
      status.topology_epoch = static_cast<int64_t>(view->epoch);
    }
  }

  ReconcileResult result{kResyncRequeue};
  if (step.done()) {
    if (!created) {
      status.shards = spec.shards;
      Event(rc, "Normal", "Created",
            std::to_string(spec.shards) + " shards x " + std::to_string(1 + spec.replicas_per_shard) +
                " servers, " + std::to_string(spec.proxy.min_replicas) + " proxies, ready");
    }
    status.phase = Phase::kReady;
    SetCondition(&status.conditions, kConditionReady, ConditionStatus::kTrue, "Ready",
                 "every shard has its master and replicas in sync; proxies serve", now, id.generation);
    SetCondition(&status.conditions, kConditionDegraded, ConditionStatus::kFalse, "AllReady", "", now,
                 id.generation);
  } else {
    const std::string reason = step.failed() ? "StepFailed" : "Waiting";
    const std::string message = step.phase + ": " + step.message;
    status.phase = created ? Phase::kDegraded : Phase::kCreating;
    SetCondition(&status.conditions, kConditionReady, ConditionStatus::kFalse,
                 created ? "Degraded" : "Creating", message, now, id.generation);
    SetCondition(&status.conditions, kConditionDegraded,
                 created ? ConditionStatus::kTrue : ConditionStatus::kFalse, created ? reason : "Creating",
                 created ? message : "", now, id.generation);
    if (step.failed()) {
      spdlog::warn("{}/{}: {}", ns, name, message);
      Event(rc, "Warning", "StepFailed", message);
    }
    result.requeue_after = step.failed() ? kFailedRequeue : kWaitingRequeue;
  }
  if (!unsupported.empty()) {
    SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kFalse, "SpecChangeNotSupported",
                 unsupported +
                     ": not supported yet (scaling and upgrades come later); the cluster keeps "
                     "what it was built with",
                 now, id.generation);
  } else if (step.done()) {
    SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kFalse, "Created",
                 "the cluster is built", now, id.generation);
  } else {
    const Condition* before = FindCondition(status.conditions, kConditionProgressing);
    std::string reason = created ? "Healing" : "Creating";
    std::string message = step.phase + ": " + step.message;
    if (!before || before->message.rfind(step.phase + ":", 0) != 0) {
      Event(rc, "Normal", reason, step.phase + (step.message.empty() ? "" : ": " + step.message));
    }
    SetCondition(&status.conditions, kConditionProgressing, ConditionStatus::kTrue, reason, message, now,
                 id.generation);
  }
  if (Status s = WriteStatus(rc, id, status); !s.ok()) {
    spdlog::warn("{}/{}: {}", ns, name, s.message());
    result.requeue_after = kFailedRequeue;
  }
  return result;
}

}  // namespace redkube::op
