#include "operator/kube_platform.h"

#include <algorithm>

#include "operator/object_names.h"

namespace redkube::op {

namespace res = kube::resources;
using nlohmann::json;

namespace {

// The ordinal of a StatefulSet pod ("demo-shard-0-1" -> 1), -1 if none.
int PodOrdinal(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash + 1 == name.size()) return -1;
  int n = 0;
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    n = n * 10 + (name[i] - '0');
  }
  return n;
}

int Restarts(const json& pod) {
  int restarts = 0;
  for (const auto& c : pod.value("status", json::object()).value("containerStatuses", json::array())) {
    restarts += c.value("restartCount", 0);
  }
  return restarts;
}

std::string PodIp(const json& pod) { return pod.value("status", json::object()).value("podIP", ""); }

std::string PodName(const json& pod) { return pod["metadata"].value("name", ""); }

}  // namespace

bool PodReady(const json& pod) {
  if (pod["metadata"].contains("deletionTimestamp")) return false;
  for (const auto& c : pod.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

KubePlatform::KubePlatform(kube::KubeClient* client, ClusterIdentity id, RedisClusterSpec spec,
                           AuthValues auth)
    : client_(client), id_(std::move(id)), spec_(std::move(spec)), auth_(std::move(auth)) {}

std::optional<int> KubePlatform::ShardIndex(const std::string& group) {
  constexpr std::string_view kPrefix = "shard-";
  if (group.size() <= kPrefix.size() || group.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
  int k = 0;
  for (size_t i = kPrefix.size(); i < group.size(); ++i) {
    if (group[i] < '0' || group[i] > '9' || k > kMaxShards) return std::nullopt;
    k = k * 10 + (group[i] - '0');
  }
  if (ShardId(k) != group) return std::nullopt;  // "shard-01"
  return k;
}

std::string KubePlatform::ClusterIp(const json& service) {
  std::string ip = service.value("spec", json::object()).value("clusterIP", "");
  return ip == "None" ? "" : ip;
}

Result<json> KubePlatform::Apply(const kube::Resource& resource, const json& object) {
  std::string name = object["metadata"].value("name", "");
  auto applied = client_->Apply(resource, id_.namespace_name, name, object);
  if (!applied.ok()) {
    return Status::Error("apply " + std::string(resource.kind) + " " + name + ": " + applied.error());
  }
  return applied;
}

Status KubePlatform::ApplyAll(const kube::Resource& resource, const std::vector<json>& objects) {
  for (const auto& object : objects) {
    if (auto applied = Apply(resource, object); !applied.ok()) return applied.status();
  }
  return Status::Ok();
}

std::string KubePlatform::Selector(std::string_view component, const std::string& shard) const {
  std::string selector = std::string(kLabelCluster) + "=" + id_.name + "," + std::string(kLabelComponent) +
                         "=" + std::string(component);
  if (!shard.empty()) selector += "," + std::string(kLabelShard) + "=" + shard;
  return selector;
}

Result<std::vector<json>> KubePlatform::Pods(const std::string& selector) {
  auto listed = client_->List(res::kPods, id_.namespace_name, selector);
  if (!listed.ok()) return Status::Error("list pods " + selector + ": " + listed.error());
  std::vector<json> pods;
  for (auto& pod : listed->items) {
    if (!pod["metadata"].contains("deletionTimestamp")) pods.push_back(std::move(pod));
  }
  std::sort(pods.begin(), pods.end(), [](const json& a, const json& b) { return PodName(a) < PodName(b); });
  return pods;
}

Result<runtime::ControlPlane> KubePlatform::EnsureControlPlane() {
  if (auto s = Apply(res::kSecrets, AuthSecret(spec_, id_, auth_)); !s.ok()) return s.status();
  auto config = ServerConfigMap(spec_, id_);
  if (!config.ok()) return config.status();
  if (auto s = Apply(res::kConfigMaps, config.value()); !s.ok()) return s.status();

  if (!spec_.etcd.external()) {
    if (Status s = ApplyAll(res::kServices, {EtcdHeadlessService(spec_, id_)}); !s.ok()) return s;
    auto client_service = Apply(res::kServices, EtcdClientService(spec_, id_));
    if (!client_service.ok()) return client_service.status();
    addresses_.etcd_client_cluster_ip = ClusterIp(client_service.value());
    if (auto s = Apply(res::kStatefulSets, EtcdStatefulSet(spec_, id_)); !s.ok()) return s.status();
    if (auto s = Apply(res::kPodDisruptionBudgets, EtcdPodDisruptionBudget(spec_, id_)); !s.ok()) {
      return s.status();
    }
  }
  auto service = Apply(res::kServices, ConfigServerService(spec_, id_));
  if (!service.ok()) return service.status();
  addresses_.configserver_cluster_ip = ClusterIp(service.value());
  auto deployment = ConfigServerDeployment(spec_, id_, addresses_);
  if (!deployment.ok()) return deployment.status();
  if (auto s = Apply(res::kDeployments, deployment.value()); !s.ok()) return s.status();
  if (auto s = Apply(res::kPodDisruptionBudgets, ConfigServerPodDisruptionBudget(spec_, id_)); !s.ok()) {
    return s.status();
  }
  auto url = ConfigServerUrl(addresses_);
  if (!url.ok()) return url.status();
  return runtime::ControlPlane{{url.value()}, auth_.api_token};
}

Result<runtime::ControlPlane> KubePlatform::ObserveControlPlane() {
  auto service = client_->Get(res::kServices, id_.namespace_name, ConfigServerName(id_.name));
  if (!service.ok()) return Status::Error("the ConfigServer Service: " + service.error());
  addresses_.configserver_cluster_ip = ClusterIp(service.value());
  auto url = ConfigServerUrl(addresses_);
  if (!url.ok()) return url.status();
  return runtime::ControlPlane{{url.value()}, auth_.api_token};
}

Status KubePlatform::EnsureServerGroup(const std::string& group, int size, const std::string& /*version*/) {
  auto k = ShardIndex(group);
  if (!k) return Status::Error("not a shard's server group: " + group);
  if (size != 1 + spec_.replicas_per_shard) {
    return Status::Error(group + ": " + std::to_string(size) + " members asked, the spec says " +
                         std::to_string(1 + spec_.replicas_per_shard));
  }
  if (addresses_.configserver_cluster_ip.empty()) {
    if (auto plane = ObserveControlPlane(); !plane.ok()) return plane.status();
  }
  if (auto s = Apply(res::kServices, ShardHeadlessService(spec_, id_, *k)); !s.ok()) return s.status();
  auto sts = ShardStatefulSet(spec_, id_, *k, addresses_);
  if (!sts.ok()) return sts.status();
  if (auto s = Apply(res::kStatefulSets, sts.value()); !s.ok()) return s.status();
  if (auto s = Apply(res::kPodDisruptionBudgets, ShardPodDisruptionBudget(spec_, id_, *k)); !s.ok()) {
    return s.status();
  }
  return Status::Ok();
}

Result<runtime::Readiness> KubePlatform::MembersReady(const std::string& group) {
  auto k = ShardIndex(group);
  if (!k) return Status::Error("not a shard's server group: " + group);
  auto sts = client_->Get(res::kStatefulSets, id_.namespace_name, ShardStatefulSetName(id_.name, *k));
  if (!sts.ok()) return Status::Error(group + ": " + sts.error());
  const int want = sts->value("spec", json::object()).value("replicas", 1);
  auto pods = Pods(Selector(kComponentServer, group));
  if (!pods.ok()) return pods.status();
  runtime::Readiness readiness;
  int ready = 0;
  std::vector<std::string> waiting;
  for (const auto& pod : pods.value()) {
    if (PodReady(pod) && !PodIp(pod).empty()) {
      ++ready;
    } else {
      waiting.push_back(PodName(pod));
    }
  }
  readiness.ready = ready >= want && static_cast<int>(pods->size()) == want;
  if (!readiness.ready) {
    readiness.waiting_for = group + ": " + std::to_string(ready) + "/" + std::to_string(want) + " pods ready";
    if (!waiting.empty()) {
      readiness.waiting_for += " (waiting for";
      for (const auto& w : waiting) readiness.waiting_for += " " + w;
      readiness.waiting_for += ")";
    }
  }
  return readiness;
}

Result<std::vector<runtime::Member>> KubePlatform::ListMembers(const std::string& group) {
  auto k = ShardIndex(group);
  if (!k) return Status::Error("not a shard's server group: " + group);
  auto pods = Pods(Selector(kComponentServer, group));
  if (!pods.ok()) return pods.status();
  std::vector<runtime::Member> members;
  for (const auto& pod : pods.value()) {
    int ordinal = PodOrdinal(PodName(pod));
    if (ordinal < 0) continue;
    runtime::Member m;
    m.name = ShardMemberName(*k, ordinal);
    m.address = HostPort{PodIp(pod), static_cast<uint16_t>(kRedisPort)};
    m.running = PodReady(pod) && !m.address.host.empty();
    m.restarts = Restarts(pod);
    members.push_back(std::move(m));
  }
  // By ordinal: the first member (pod -0) is a new shard's master.
  std::sort(members.begin(), members.end(), [](const runtime::Member& a, const runtime::Member& b) {
    return PodOrdinal(a.name) < PodOrdinal(b.name);
  });
  return members;
}

Status KubePlatform::ReplaceMember(const std::string& group, int index) {
  auto k = ShardIndex(group);
  if (!k) return Status::Error("not a shard's server group: " + group);
  // The StatefulSet controller recreates it with the same name and volume.
  return client_->Delete(res::kPods, id_.namespace_name, ShardPodName(id_.name, *k, index));
}

Status KubePlatform::RemoveServerGroup(const std::string& group) {
  auto k = ShardIndex(group);
  if (!k) return Status::Error("not a shard's server group: " + group);
  const std::string name = ShardStatefulSetName(id_.name, *k);
  if (Status s = client_->Delete(res::kPodDisruptionBudgets, id_.namespace_name, name); !s.ok()) return s;
  if (Status s = client_->Delete(res::kStatefulSets, id_.namespace_name, name); !s.ok()) return s;
  return client_->Delete(res::kServices, id_.namespace_name, name);
}

Result<std::vector<std::string>> KubePlatform::ListServerGroups() {
  auto listed = client_->List(res::kStatefulSets, id_.namespace_name, Selector(kComponentServer));
  if (!listed.ok()) return Status::Error("list StatefulSets: " + listed.error());
  std::vector<std::string> groups;
  for (const auto& sts : listed->items) {
    if (sts["metadata"].contains("deletionTimestamp")) continue;
    std::string shard = sts["metadata"].value("labels", json::object()).value(std::string(kLabelShard), "");
    if (!shard.empty()) groups.push_back(shard);
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

Status KubePlatform::EnsureProxies(int /*count: spec.proxy.minReplicas*/, const runtime::ControlPlane&) {
  auto service = Apply(res::kServices, ProxyService(spec_, id_));
  if (!service.ok()) return service.status();
  if (addresses_.configserver_cluster_ip.empty()) {
    if (auto plane = ObserveControlPlane(); !plane.ok()) return plane.status();
  }
  auto deployment = ProxyDeployment(spec_, id_, addresses_);
  if (!deployment.ok()) return deployment.status();
  auto applied = Apply(res::kDeployments, deployment.value());
  if (!applied.ok()) return applied.status();
  // A new Deployment has 1 replica (the apply leaves spec.replicas to the
  // HPA); start it at minReplicas rather than waiting for the HPA's sync.
  // Only while the Deployment is below the minimum: the HPA owns it after.
  if (applied->value("spec", json::object()).value("replicas", 1) < spec_.proxy.min_replicas) {
    auto scaled = client_->MergePatch(res::kDeployments, id_.namespace_name, ProxyName(id_.name),
                                      ProxyInitialScale(spec_), "scale");
    if (!scaled.ok()) return Status::Error("scale the proxy Deployment: " + scaled.error());
  }
  if (auto s = Apply(res::kHorizontalPodAutoscalers, ProxyHorizontalPodAutoscaler(spec_, id_)); !s.ok()) {
    return s.status();
  }
  if (auto s = Apply(res::kPodDisruptionBudgets, ProxyPodDisruptionBudget(spec_, id_)); !s.ok()) {
    return s.status();
  }
  return Status::Ok();
}

Result<runtime::Readiness> KubePlatform::ProxiesReady() {
  auto pods = Pods(Selector(kComponentProxy));
  if (!pods.ok()) return pods.status();
  int ready = 0;
  for (const auto& pod : pods.value()) ready += PodReady(pod) ? 1 : 0;
  runtime::Readiness readiness;
  readiness.ready = ready >= spec_.proxy.min_replicas;
  if (!readiness.ready) {
    readiness.waiting_for =
        "proxies: " + std::to_string(ready) + "/" + std::to_string(spec_.proxy.min_replicas) + " pods ready";
  }
  return readiness;
}

std::vector<runtime::Member> KubePlatform::ListProxies() {
  std::vector<runtime::Member> members;
  auto pods = Pods(Selector(kComponentProxy));
  if (!pods.ok()) return members;
  for (const auto& pod : pods.value()) {
    runtime::Member m;
    m.name = PodName(pod);
    m.address = HostPort{PodIp(pod), static_cast<uint16_t>(kRedisPort)};
    m.running = PodReady(pod);
    m.restarts = Restarts(pod);
    members.push_back(std::move(m));
  }
  return members;
}

Result<std::string> KubePlatform::ProxyServiceAddress() {
  auto service = client_->Get(res::kServices, id_.namespace_name, ProxyName(id_.name));
  if (!service.ok()) return service.status();
  std::string ip = ClusterIp(service.value());
  if (ip.empty()) return Status::Error("the proxy Service has no ClusterIP yet");
  return ip + ":" + std::to_string(kRedisPort);
}

}  // namespace redkube::op
