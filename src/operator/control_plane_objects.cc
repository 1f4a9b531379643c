// The control plane's objects: etcd (a StatefulSet the operator deploys
// unless spec.etcd.endpoints names an external one) and the ConfigServer.
#include <string>

#include "operator/object_builders.h"
#include "operator/object_parts.h"

namespace redkube::op {

using nlohmann::json;

namespace {

constexpr std::string_view kEtcdDataDir = "/var/lib/etcd";

std::string Peer(const std::string& host) { return "http://" + host + ":" + std::to_string(kEtcdPeerPort); }

// The pod's DNS name under the headless Service: NAME-etcd-I.NAME-etcd.NS.svc.
std::string EtcdPeerHost(const ClusterIdentity& id, const std::string& pod) {
  return pod + "." + EtcdName(id.name) + "." + id.namespace_name + ".svc";
}

json EtcdArgs(const RedisClusterSpec& spec, const ClusterIdentity& id) {
  const std::string client = "http://$(POD_IP):" + std::to_string(kEtcdClientPort);
  json args = {"--name",
               "$(POD_NAME)",
               "--data-dir",
               kEtcdDataDir,
               "--listen-client-urls",
               client,
               "--advertise-client-urls",
               client,
               "--listen-peer-urls",
               Peer("$(POD_IP)")};
  std::string advertise_peer, initial_cluster;
  if (spec.etcd.members == 1) {
    // One member needs no peer to find it: its pod IP, so no cluster DNS is
    // needed (the test bed has none). On a restart with a new IP the data
    // directory's membership wins and a single member does not care.
    advertise_peer = Peer("$(POD_IP)");
    initial_cluster = "$(POD_NAME)=" + Peer("$(POD_IP)");
  } else {
    // Members must know each other's peer URLs before any has started: the
    // stable DNS names of the headless Service, which needs cluster DNS.
    advertise_peer = Peer("$(POD_NAME)." + EtcdName(id.name) + "." + id.namespace_name + ".svc");
    for (int i = 0; i < spec.etcd.members; ++i) {
      const std::string pod = EtcdPodName(id.name, i);
      if (i > 0) initial_cluster += ",";
      initial_cluster += pod + "=" + Peer(EtcdPeerHost(id, pod));
    }
  }
  for (const std::string& a :
       {std::string("--initial-advertise-peer-urls"), advertise_peer, std::string("--initial-cluster"),
        initial_cluster, std::string("--initial-cluster-state"), std::string("new"),
        std::string("--initial-cluster-token"), EtcdName(id.name) + "-" + id.uid}) {
    args.push_back(a);
  }
  return args;
}

}  // namespace

json EtcdStatefulSet(const RedisClusterSpec& spec, const ClusterIdentity& id) {
  const json selector = SelectorLabels(id.name, kComponentEtcd);
  json container = {
      {"name", "etcd"},
      {"image", spec.images.etcd},
      {"command", json::array({"etcd"})},
      {"args", EtcdArgs(spec, id)},
      {"env", parts::PodIdentityEnv()},
      {"ports", json::array({{{"name", "client"}, {"containerPort", kEtcdClientPort}},
                             {{"name", "peer"}, {"containerPort", kEtcdPeerPort}}})},
      // /health answers 200 only with a quorum and a leader.
      {"readinessProbe", parts::HttpProbe("/health", kEtcdClientPort, 5, 3)},
      {"resources", spec.resources.etcd},
      {"securityContext", parts::ContainerSecurityContext()},
      {"volumeMounts", json::array({{{"name", "data"}, {"mountPath", kEtcdDataDir}}})},
  };
  json sts = parts::Object("apps/v1", "StatefulSet",
                           parts::Metadata(id, EtcdName(id.name), ObjectLabels(id.name, kComponentEtcd)));
  sts["spec"] = {
      {"serviceName", EtcdName(id.name)},
      {"replicas", spec.etcd.members},
      // Parallel: three new members must all start before any can be ready
      // (no quorum alone); OrderedReady would wait for member 0 forever.
      {"podManagementPolicy", "Parallel"},
      {"selector", {{"matchLabels", selector}}},
      {"template",
       {{"metadata", {{"labels", ObjectLabels(id.name, kComponentEtcd)}}},
        {"spec",
         {{"securityContext", parts::PodSecurityContext()},
          // Preferred: a cluster with fewer nodes than members still starts;
          // the PDB keeps drains from taking two members at once.
          {"affinity", parts::PreferredHostAntiAffinity(selector)},
          {"terminationGracePeriodSeconds", 30},
          {"containers", json::array({container})}}}}},
      {"volumeClaimTemplates",
       json::array({parts::ClaimTemplate("data", spec.storage.class_name, spec.etcd.storage_size)})},
  };
  return sts;
}

json EtcdHeadlessService(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::Service(
      id, EtcdName(id.name), ObjectLabels(id.name, kComponentEtcd), SelectorLabels(id.name, kComponentEtcd),
      json::array({parts::ServicePort("client", kEtcdClientPort), parts::ServicePort("peer", kEtcdPeerPort)}),
      /*headless=*/true);
}

json EtcdClientService(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::Service(id, EtcdClientServiceName(id.name), ObjectLabels(id.name, kComponentEtcd),
                        SelectorLabels(id.name, kComponentEtcd),
                        json::array({parts::ServicePort("client", kEtcdClientPort)}), /*headless=*/false);
}

json EtcdPodDisruptionBudget(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::PodDisruptionBudget(id, EtcdName(id.name), ObjectLabels(id.name, kComponentEtcd),
                                    SelectorLabels(id.name, kComponentEtcd));
}

Result<json> ConfigServerDeployment(const RedisClusterSpec& spec, const ClusterIdentity& id,
                                    const ObservedAddresses& addresses) {
  auto etcd = EtcdUrl(spec, addresses);
  if (!etcd.ok()) return etcd.status();
  const json selector = SelectorLabels(id.name, kComponentConfigServer);
  json container = {
      {"name", "configserver"},
      {"image", spec.images.configserver},
      {"command", json::array({"redkube-configserver"})},
      {"args", json::array({"--listen", "$(POD_IP):" + std::to_string(kConfigServerPort), "--etcd",
                            etcd.value(), "--token-file", parts::AuthFile(kApiTokenKey), "--password-file",
                            parts::AuthFile(kPasswordKey), "--id", "$(POD_NAME)"})},
      {"env", parts::PodIdentityEnv()},
      {"ports", json::array({{{"name", "http"}, {"containerPort", kConfigServerPort}}})},
      {"readinessProbe", parts::HttpProbe("/healthz", kConfigServerPort, 5, 3)},
      {"livenessProbe", parts::HttpProbe("/healthz", kConfigServerPort, 10, 6)},
      {"resources", spec.resources.configserver},
      {"securityContext", parts::ContainerSecurityContext()},
      {"volumeMounts", json::array({parts::AuthMount()})},
  };
  json deploy = parts::Object(
      "apps/v1", "Deployment",
      parts::Metadata(id, ConfigServerName(id.name), ObjectLabels(id.name, kComponentConfigServer)));
  deploy["spec"] = {
      // One leader and a standby that takes over within the lease TTL.
      {"replicas", 2},
      {"selector", {{"matchLabels", selector}}},
      // A new pod is up before an old one goes: a standby always exists.
      {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
      {"template",
       {{"metadata", {{"labels", ObjectLabels(id.name, kComponentConfigServer)}}},
        {"spec",
         {{"securityContext", parts::PodSecurityContext()},
          {"affinity", parts::PreferredHostAntiAffinity(selector)},
          {"terminationGracePeriodSeconds", 30},
          {"containers", json::array({container})},
          {"volumes", json::array({parts::AuthVolume(spec, id)})}}}}},
  };
  return deploy;
}

json ConfigServerService(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::Service(id, ConfigServerName(id.name), ObjectLabels(id.name, kComponentConfigServer),
                        SelectorLabels(id.name, kComponentConfigServer),
                        json::array({parts::ServicePort("http", kConfigServerPort)}), /*headless=*/false);
}

json ConfigServerPodDisruptionBudget(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::PodDisruptionBudget(id, ConfigServerName(id.name),
                                    ObjectLabels(id.name, kComponentConfigServer),
                                    SelectorLabels(id.name, kComponentConfigServer));
}

}  // namespace redkube::op
