// The RedisCluster custom resource (redkube.io/v1alpha1, docs/operator.md):
// its spec as typed values with the contract's defaults, the identity the
// operator's objects are owned by, and the status it writes back.
//
// ParseSpec is the one place a spec is read: it applies the defaults and
// refuses what the CRD's schema cannot express (proxy minReplicas above
// maxReplicas, platform-owned redis.conf keys, more than one external etcd
// endpoint), so a refusal reaches the user as a condition with the reason,
// and the builders downstream can trust every field. Pure: no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace redkube::op {

using json = nlohmann::json;

inline constexpr std::string_view kGroup = "redkube.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "redkube.io/v1alpha1";
inline constexpr std::string_view kKind = "RedisCluster";
inline constexpr std::string_view kPlural = "redisclusters";
inline constexpr std::string_view kFinalizer = "redkube.io/finalizer";

// The longest RedisCluster name: the StatefulSet "NAME-shard-63" must leave
// room for the 11 characters the StatefulSet controller appends in its
// controller-revision-hash label (63 at most), and every object name derived
// from NAME is a DNS-1035 label (Services).
inline constexpr size_t kMaxClusterNameLength = 40;
inline constexpr int kMaxShards = 64;

struct ProxySpec {
  int min_replicas = 2;
  int max_replicas = 4;
  int target_cpu_utilization = 70;  // percent of the proxy container's CPU request
};

struct ImagesSpec {
  // redis-server and redkube-server-start in one image (deploy/docker/Dockerfile, target server):
  // the init container runs the start step from the same image as redis, so
  // a stock "redis:7.0" does not do (it has no redkube-server-start).
  std::string server = "redkube/server:0.1";
  std::string proxy = "redkube/proxy:0.1";
  std::string configserver = "redkube/configserver:0.1";
  std::string etcd = "quay.io/coreos/etcd:v3.5.17";
};

// core/v1 ResourceRequirements per component, passed through as JSON.
struct ResourcesSpec {
  json server = json::object();
  // The HPA scales on CPU utilization, a percentage of the request: the
  // proxy always has one.
  json proxy = {{"requests", {{"cpu", "100m"}}}};
  json configserver = json::object();
  json etcd = json::object();
};

struct StorageSpec {
  std::string class_name;  // empty: the cluster's default StorageClass
  std::string size = "1Gi";
};

struct PasswordSecretSpec {
  std::string name;  // empty: generated into NAME-auth
  std::string key = "password";
};

struct EtcdSpec {
  int members = 3;  // 1 or 3
  std::vector<std::string>
      endpoints;  // set: external etcd, none deployed (one URL: the ConfigServer takes one)
  std::string storage_size = "1Gi";  // the etcd members' PVCs (spec.storage.className)

  bool external() const { return !endpoints.empty(); }
};

struct RedisClusterSpec {
  int shards = 3;
  int replicas_per_shard = 1;  // pods per shard = 1 + replicas_per_shard
  ProxySpec proxy;
  ImagesSpec images;
  ResourcesSpec resources;
  StorageSpec storage;
  PasswordSecretSpec password_secret;
  std::map<std::string, std::string> redis_config;  // sorted: the ConfigMap is the same every time
  EtcdSpec etcd;
  int upgrade_grace_seconds = 30;
  bool paused = false;
};

// What the operator's objects are named and owned by.
struct ClusterIdentity {
  std::string name;
  std::string namespace_name;
  std::string uid;
  int64_t generation = 0;
};

// metadata.name/namespace/uid/generation; refuses a name the derived object
// names cannot be built from (see kMaxClusterNameLength).
Result<ClusterIdentity> ParseIdentity(const json& resource);

// resource.spec with the defaults above for what is absent; `image_defaults`
// are the operator's (flags) for images the spec leaves out.
Result<RedisClusterSpec> ParseSpec(const json& resource, const ImagesSpec& image_defaults = {});

// The keys redis.conf may not set because the platform sets them (address,
// data directory, authentication, replication) or because they would break
// the pod (daemonize) or route around the proxy (rename-command).
bool IsPlatformOwnedRedisConfigKey(std::string_view key);
// Every key a lowercase redis.conf parameter name that is not platform-owned,
// every value one line (no CR, LF or NUL). The error names the first bad entry.
Status ValidateRedisConfig(const std::map<std::string, std::string>& config);

// ---- status ----

enum class Phase { kCreating, kReady, kDegraded, kDeleting, kPaused };
std::string_view PhaseName(Phase phase);

enum class ConditionStatus { kTrue, kFalse, kUnknown };
std::string_view ConditionStatusName(ConditionStatus status);

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionProgressing = "Progressing";
inline constexpr std::string_view kConditionDegraded = "Degraded";

// A metav1.Condition.
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;                // CamelCase, as metav1.Condition requires
  std::string message;               // for a person
  std::string last_transition_time;  // RFC 3339, UTC
  int64_t observed_generation = 0;
};

// Sets condition `type`: lastTransitionTime becomes `now` only when the
// status changes (or the condition is new), so it says since when the
// condition has held, as kubectl and tools expect; reason, message and
// observedGeneration are always updated. Returns whether anything changed,
// so a caller can skip a status write that would change nothing.
bool SetCondition(std::vector<Condition>* conditions, std::string_view type, ConditionStatus status,
                  std::string_view reason, std::string_view message,
                  std::chrono::system_clock::time_point now, int64_t observed_generation = 0);
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

// "2024-05-01T12:00:00Z": metav1.Time's format (seconds, UTC).
std::string FormatRfc3339(std::chrono::system_clock::time_point t);

struct RedisClusterStatus {
  Phase phase = Phase::kCreating;
  std::vector<Condition> conditions;
  int64_t observed_generation = 0;
  int ready_shards = 0;
  int64_t topology_epoch = 0;
  std::string proxy_service;  // "10.x.y.z:6379", empty until the proxy Service has its ClusterIP
  int shards = 0;             // the shard count actually built

  json ToJson() const;
  // The status as the API server holds it (absent fields: defaults), so the
  // conditions' transition times carry over into the next write.
  static RedisClusterStatus FromJson(const json& status);
};

// The body of a server-side apply on the status subresource: apiVersion,
// kind, metadata (name, namespace) and status.
json StatusApplyBody(const ClusterIdentity& id, const RedisClusterStatus& status);

}  // namespace redkube::op
