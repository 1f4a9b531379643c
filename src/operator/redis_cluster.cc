#include "operator/redis_cluster.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <regex>

namespace redkube::op {
namespace {

// Each reader leaves `*out` (the default) alone when the field is absent or
// null, and refuses a field of the wrong type with its path, the way the API
// server would word it.
Status ReadInt(const json& obj, const char* key, const std::string& path, int min, int max, int* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  const json& v = obj[key];
  if (!v.is_number_integer()) return Status::Error(path + ": must be an integer");
  const int64_t n = v.get<int64_t>();
  if (n < min || n > max) {
    return Status::Error(path + ": must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", got " + std::to_string(n));
  }
  *out = static_cast<int>(n);
  return Status::Ok();
}

Status ReadString(const json& obj, const char* key, const std::string& path, std::string* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  if (!obj[key].is_string()) return Status::Error(path + ": must be a string");
  *out = obj[key].get<std::string>();
  return Status::Ok();
}

Status ReadBool(const json& obj, const char* key, const std::string& path, bool* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::Ok();
  if (!obj[key].is_boolean()) return Status::Error(path + ": must be a boolean");
  *out = obj[key].get<bool>();
  return Status::Ok();
}

// An object field; an absent or null one reads as {}.
Result<json> ReadObject(const json& obj, const char* key, const std::string& path) {
  if (!obj.contains(key) || obj[key].is_null()) return json::object();
  if (!obj[key].is_object()) return Status::Error(path + ": must be an object");
  return obj[key];
}

// A non-empty image reference that overrides the default; empty keeps it.
Status ReadImage(const json& images, const char* key, std::string* out) {
  std::string value;
  Status s = ReadString(images, key, std::string("spec.images.") + key, &value);
  if (!s.ok()) return s;
  if (value.find_first_of(" \t\r\n") != std::string::npos) {
    return Status::Error(std::string("spec.images.") + key + ": an image reference has no whitespace");
  }
  if (!value.empty()) *out = value;
  return Status::Ok();
}

const std::regex& QuantityPattern() {
  // Kubernetes' resource.Quantity without a sign: 500m, 1.5, 1Gi, 2G, 1e3.
  static const std::regex re(R"(^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][0-9]+)?$)");
  return re;
}

// A core/v1 ResourceRequirements: only limits and requests (and claims,
// passed through), each a map of quantities.
Status ReadResources(const json& resources, const char* key, json* out) {
  const std::string path = std::string("spec.resources.") + key;
  auto r = ReadObject(resources, key, path);
  if (!r.ok()) return r.status();
  if (r->empty()) return Status::Ok();
  for (const auto& [field, value] : r->items()) {
    if (field == "claims") continue;
    if (field != "limits" && field != "requests") {
      return Status::Error(
          std::string(path).append(": unknown field \"").append(field).append("\" (limits, requests)"));
    }
    if (!value.is_object())
      return Status::Error(std::string(path).append(".").append(field).append(": must be an object"));
    for (const auto& [name, quantity] : value.items()) {
      const bool ok_number = quantity.is_number() && quantity.get<double>() >= 0;
      const bool ok_string =
          quantity.is_string() && std::regex_match(quantity.get<std::string>(), QuantityPattern());
      if (!ok_number && !ok_string) {
        return Status::Error(std::string(path).append(".").append(field).append(".").append(name).append(
            ": not a quantity (e.g. 500m, 1Gi)"));
      }
    }
  }
  *out = r.value();
  return Status::Ok();
}

bool IsDnsSubdomain(const std::string& s) {
  static const std::regex re(R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)");
  return !s.empty() && s.size() <= 253 && std::regex_match(s, re);
}

bool IsSecretKey(const std::string& s) {
  static const std::regex re(R"(^[-._a-zA-Z0-9]+$)");
  return !s.empty() && s.size() <= 253 && std::regex_match(s, re);
}

// "http://host:port" or "https://host:port" with nothing the ConfigServer's
// --etcd flag could misread (no list, no spaces, no path).
bool IsEtcdEndpoint(const std::string& s) {
  static const std::regex re(R"(^https?://[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$)");
  return std::regex_match(s, re);
}

}  // namespace

Result<ClusterIdentity> ParseIdentity(const json& resource) {
  if (!resource.is_object() || !resource.contains("metadata") || !resource["metadata"].is_object()) {
    return Status::Error("the resource has no metadata");
  }
  const json& meta = resource["metadata"];
  ClusterIdentity id;
  id.name = meta.value("name", "");
  id.namespace_name = meta.value("namespace", "");
  id.uid = meta.value("uid", "");
  if (meta.contains("generation") && meta["generation"].is_number_integer()) {
    id.generation = meta["generation"].get<int64_t>();
  }
  static const std::regex dns1035(R"(^[a-z]([-a-z0-9]*[a-z0-9])?$)");
  if (id.name.empty() || id.name.size() > kMaxClusterNameLength || !std::regex_match(id.name, dns1035)) {
    return Status::Error("metadata.name \"" + id.name + "\": must be a DNS-1035 label of at most " +
                         std::to_string(kMaxClusterNameLength) +
                         " characters (lowercase letters, digits, '-', starting with a letter): the "
                         "Services and StatefulSets are named after it");
  }
  if (id.namespace_name.empty()) return Status::Error("metadata.namespace: a RedisCluster is namespaced");
  if (id.uid.empty()) return Status::Error("metadata.uid: missing (the owner references need it)");
  return id;
}

Result<RedisClusterSpec> ParseSpec(const json& resource, const ImagesSpec& image_defaults) {
  if (!resource.is_object()) return Status::Error("the resource is not an object");
  auto spec_json = ReadObject(resource, "spec", "spec");
  if (!spec_json.ok()) return spec_json.status();
  const json& s = spec_json.value();

  RedisClusterSpec spec;
  spec.images = image_defaults;
  auto check = [](const Status& st) { return st.ok(); };
  Status st = ReadInt(s, "shards", "spec.shards", 1, kMaxShards, &spec.shards);
  if (check(st))
    st = ReadInt(s, "replicasPerShard", "spec.replicasPerShard", 0, 1000, &spec.replicas_per_shard);
  if (check(st))
    st = ReadInt(s, "upgradeGraceSeconds", "spec.upgradeGraceSeconds", 0, 3600, &spec.upgrade_grace_seconds);
  if (check(st)) st = ReadBool(s, "paused", "spec.paused", &spec.paused);
  if (!st.ok()) return st;

  auto proxy = ReadObject(s, "proxy", "spec.proxy");
  if (!proxy.ok()) return proxy.status();
  st = ReadInt(proxy.value(), "minReplicas", "spec.proxy.minReplicas", 1, 1000, &spec.proxy.min_replicas);
  if (check(st))
    st = ReadInt(proxy.value(), "maxReplicas", "spec.proxy.maxReplicas", 1, 1000, &spec.proxy.max_replicas);
  if (check(st)) {
    st = ReadInt(proxy.value(), "targetCPUUtilization", "spec.proxy.targetCPUUtilization", 1, 1000,
                 &spec.proxy.target_cpu_utilization);
  }
  if (!st.ok()) return st;
  if (spec.proxy.min_replicas > spec.proxy.max_replicas) {
    return Status::Error("spec.proxy: minReplicas (" + std::to_string(spec.proxy.min_replicas) +
                         ") is above maxReplicas (" + std::to_string(spec.proxy.max_replicas) + ")");
  }

  auto images = ReadObject(s, "images", "spec.images");
  if (!images.ok()) return images.status();
  for (auto [key, out] :
       {std::pair{"server", &spec.images.server}, std::pair{"proxy", &spec.images.proxy},
        std::pair{"configserver", &spec.images.configserver}, std::pair{"etcd", &spec.images.etcd}}) {
    st = ReadImage(images.value(), key, out);
    if (!st.ok()) return st;
  }

  auto resources = ReadObject(s, "resources", "spec.resources");
  if (!resources.ok()) return resources.status();
  for (auto [key, out] :
       {std::pair{"server", &spec.resources.server}, std::pair{"proxy", &spec.resources.proxy},
        std::pair{"configserver", &spec.resources.configserver}, std::pair{"etcd", &spec.resources.etcd}}) {
    st = ReadResources(resources.value(), key, out);
    if (!st.ok()) return st;
  }
  const json& proxy_resources = spec.resources.proxy;
  auto has_cpu = [&](const char* field) {
    return proxy_resources.contains(field) && proxy_resources[field].contains("cpu");
  };
  // A limit alone becomes the request (API server defaulting); neither leaves
  // the HPA nothing to compute utilization against.
  if (!has_cpu("requests") && !has_cpu("limits")) {
    return Status::Error(
        "spec.resources.proxy: needs requests.cpu (or limits.cpu): the HPA scales on CPU utilization, "
        "a percentage of the request");
  }

  auto storage = ReadObject(s, "storage", "spec.storage");
  if (!storage.ok()) return storage.status();
  st = ReadString(storage.value(), "className", "spec.storage.className", &spec.storage.class_name);
  if (check(st)) st = ReadString(storage.value(), "size", "spec.storage.size", &spec.storage.size);
  if (!st.ok()) return st;
  if (!spec.storage.class_name.empty() && !IsDnsSubdomain(spec.storage.class_name)) {
    return Status::Error("spec.storage.className \"" + spec.storage.class_name +
                         "\": not a StorageClass name");
  }
  if (!std::regex_match(spec.storage.size, QuantityPattern())) {
    return Status::Error("spec.storage.size \"" + spec.storage.size + "\": not a quantity (e.g. 1Gi)");
  }

  auto secret = ReadObject(s, "passwordSecret", "spec.passwordSecret");
  if (!secret.ok()) return secret.status();
  st = ReadString(secret.value(), "name", "spec.passwordSecret.name", &spec.password_secret.name);
  if (check(st)) st = ReadString(secret.value(), "key", "spec.passwordSecret.key", &spec.password_secret.key);
  if (!st.ok()) return st;
  if (!spec.password_secret.name.empty() && !IsDnsSubdomain(spec.password_secret.name)) {
    return Status::Error("spec.passwordSecret.name \"" + spec.password_secret.name + "\": not a Secret name");
  }
  if (!IsSecretKey(spec.password_secret.key)) {
    return Status::Error("spec.passwordSecret.key \"" + spec.password_secret.key + "\": not a Secret key");
  }
  const json* meta = resource.contains("metadata") ? &resource["metadata"] : nullptr;
  const std::string own_secret =
      (meta != nullptr && meta->is_object() ? meta->value("name", std::string()) : std::string()) + "-auth";
  if (spec.password_secret.name == own_secret) {
    return Status::Error(
        "spec.passwordSecret.name: " + own_secret +
        " is the operator's own Secret; leave the name empty to have the password generated there");
  }

  auto config = ReadObject(s, "redisConfig", "spec.redisConfig");
  if (!config.ok()) return config.status();
  for (const auto& [key, value] : config->items()) {
    if (!value.is_string()) {
      return Status::Error("spec.redisConfig." + key +
                           ": must be a string (quote numbers: \"100mb\", \"0\")");
    }
    spec.redis_config[key] = value.get<std::string>();
  }
  st = ValidateRedisConfig(spec.redis_config);
  if (!st.ok()) return Status::Error("spec.redisConfig: " + st.message());

  auto etcd = ReadObject(s, "etcd", "spec.etcd");
  if (!etcd.ok()) return etcd.status();
  st = ReadInt(etcd.value(), "members", "spec.etcd.members", 1, 3, &spec.etcd.members);
  if (check(st))
    st = ReadString(etcd.value(), "storageSize", "spec.etcd.storageSize", &spec.etcd.storage_size);
  if (!st.ok()) return st;
  if (spec.etcd.members != 1 && spec.etcd.members != 3) {
    return Status::Error(
        "spec.etcd.members: must be 1 or 3 (an etcd of 2 tolerates no more failures than 1)");
  }
  if (!std::regex_match(spec.etcd.storage_size, QuantityPattern())) {
    return Status::Error("spec.etcd.storageSize \"" + spec.etcd.storage_size +
                         "\": not a quantity (e.g. 1Gi)");
  }
  if (etcd->contains("endpoints") && !etcd.value()["endpoints"].is_null()) {
    const json& list = etcd.value()["endpoints"];
    if (!list.is_array()) return Status::Error("spec.etcd.endpoints: must be a list of URLs");
    for (const json& e : list) {
      if (!e.is_string() || !IsEtcdEndpoint(e.get<std::string>())) {
        return Status::Error("spec.etcd.endpoints: " + e.dump() + " is not an http(s)://host:port URL");
      }
      spec.etcd.endpoints.push_back(e.get<std::string>());
    }
    if (spec.etcd.endpoints.size() > 1) {
      return Status::Error(
          "spec.etcd.endpoints: the ConfigServer takes one etcd URL; give one that reaches every member "
          "(a load-balanced Service)");
    }
  }
  return spec;
}

bool IsPlatformOwnedRedisConfigKey(std::string_view key) {
  // slaveof is replicaof's old name; masteruser goes with masterauth.
  static constexpr std::array<std::string_view, 13> kOwned = {
      "rename-command", "requirepass", "masterauth", "masteruser", "replicaof",       "slaveof",   "bind",
      "port",           "dir",         "include",    "daemonize",  "cluster-enabled", "unixsocket"};
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(kOwned.begin(), kOwned.end(), lower) != kOwned.end();
}

Status ValidateRedisConfig(const std::map<std::string, std::string>& config) {
  static const std::regex key_re(R"(^[a-z][a-z0-9-]*$)");
  for (const auto& [key, value] : config) {
    if (!std::regex_match(key, key_re)) {
      return Status::Error("\"" + key +
                           "\" is not a redis.conf parameter name (lowercase letters, digits, '-')");
    }
    if (IsPlatformOwnedRedisConfigKey(key)) {
      return Status::Error("\"" + key +
                           "\" is set by the platform (address, data directory, authentication, replication) "
                           "and cannot be changed here");
    }
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return Status::Error("the value of \"" + key + "\" must be one line (no CR, LF or NUL)");
    }
  }
  return Status::Ok();
}

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kCreating:
      return "Creating";
    case Phase::kReady:
      return "Ready";
    case Phase::kDegraded:
      return "Degraded";
    case Phase::kDeleting:
      return "Deleting";
    case Phase::kPaused:
      return "Paused";
  }
  return "Creating";
}

std::string_view ConditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const Condition& c : conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

bool SetCondition(std::vector<Condition>* conditions, std::string_view type, ConditionStatus status,
                  std::string_view reason, std::string_view message,
                  std::chrono::system_clock::time_point now, int64_t observed_generation) {
  // metav1.Condition caps the message at 32768 bytes; the API server would
  // refuse the whole status write over a long error text.
  constexpr size_t kMaxMessage = 32768;
  const std::string_view clipped = message.substr(0, kMaxMessage);
  for (Condition& c : *conditions) {
    if (c.type != type) continue;
    bool changed = false;
    if (c.status != status) {
      c.status = status;
      c.last_transition_time = FormatRfc3339(now);
      changed = true;
    }
    if (c.reason != reason) c.reason = reason, changed = true;
    if (c.message != clipped) c.message = clipped, changed = true;
    if (c.observed_generation != observed_generation)
      c.observed_generation = observed_generation, changed = true;
    return changed;
  }
  conditions->push_back(Condition{std::string(type), status, std::string(reason), std::string(clipped),
                                  FormatRfc3339(now), observed_generation});
  return true;
}

json RedisClusterStatus::ToJson() const {
  json list = json::array();
  for (const Condition& c : conditions) {
    json j = {{"type", c.type},
              {"status", ConditionStatusName(c.status)},
              {"reason", c.reason},
              {"message", c.message},
              {"lastTransitionTime", c.last_transition_time}};
    if (c.observed_generation > 0) j["observedGeneration"] = c.observed_generation;
    list.push_back(std::move(j));
  }
  json out = {{"phase", PhaseName(phase)},
              {"conditions", std::move(list)},
              {"observedGeneration", observed_generation},
              {"readyShards", ready_shards},
              {"topologyEpoch", topology_epoch},
              {"shards", shards}};
  if (!proxy_service.empty()) out["proxyService"] = proxy_service;
  return out;
}

RedisClusterStatus RedisClusterStatus::FromJson(const json& status) {
  RedisClusterStatus out;
  if (!status.is_object()) return out;
  const std::string phase = status.value("phase", "");
  for (Phase p : {Phase::kCreating, Phase::kReady, Phase::kDegraded, Phase::kDeleting, Phase::kPaused}) {
    if (PhaseName(p) == phase) out.phase = p;
  }
  auto int_field = [&](const char* key) -> int64_t {
    return status.contains(key) && status[key].is_number_integer() ? status[key].get<int64_t>() : 0;
  };
  out.observed_generation = int_field("observedGeneration");
  out.ready_shards = static_cast<int>(int_field("readyShards"));
  out.topology_epoch = int_field("topologyEpoch");
  out.shards = static_cast<int>(int_field("shards"));
  out.proxy_service = status.value("proxyService", "");
  if (status.contains("conditions") && status["conditions"].is_array()) {
    for (const json& c : status["conditions"]) {
      if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) continue;
      Condition cond;
      cond.type = c["type"].get<std::string>();
      const std::string s = c.value("status", "Unknown");
      cond.status = s == "True"    ? ConditionStatus::kTrue
                    : s == "False" ? ConditionStatus::kFalse
                                   : ConditionStatus::kUnknown;
      cond.reason = c.value("reason", "");
      cond.message = c.value("message", "");
      cond.last_transition_time = c.value("lastTransitionTime", "");
      if (c.contains("observedGeneration") && c["observedGeneration"].is_number_integer()) {
        cond.observed_generation = c["observedGeneration"].get<int64_t>();
      }
      out.conditions.push_back(std::move(cond));
    }
  }
  return out;
}

json StatusApplyBody(const ClusterIdentity& id, const RedisClusterStatus& status) {
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", {{"name", id.name}, {"namespace", id.namespace_name}}},
          {"status", status.ToJson()}};
}

}  // namespace redkube::op
