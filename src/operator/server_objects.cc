// A shard's objects: its StatefulSet (the servers), headless Service and PDB.
#include <string>

#include "operator/object_builders.h"
#include "operator/object_parts.h"

namespace redkube::op {

using nlohmann::json;

namespace {

std::string DataFile(std::string_view name) { return std::string(kDataDir) + "/" + std::string(name); }

json ConfigVolume(const ClusterIdentity& id) {
  return {{"name", "config"},
          {"configMap",
           {{"name", ServerConfigMapName(id.name)},
            {"items", json::array({{{"key", kRedisConfKey}, {"path", kRedisConfKey}}})}}}};
}

json ConfigMount() { return {{"name", "config"}, {"mountPath", kConfigDir}, {"readOnly", true}}; }
json DataMount() { return {{"name", "data"}, {"mountPath", kDataDir}}; }

}  // namespace

Result<json> ShardStatefulSet(const RedisClusterSpec& spec, const ClusterIdentity& id, int shard_index,
                              const ObservedAddresses& addresses) {
  auto configserver = ConfigServerUrl(addresses);
  if (!configserver.ok()) return configserver.status();
  const json selector = ShardSelectorLabels(id.name, shard_index);
  const std::string generated = DataFile("redkube.conf");

  // The server start step (docs/operator.md): redkube-server-start decides
  // how redis-server starts (master, or replica of the shard's current
  // master), writes the redis.conf it runs from, then execs redis-server. It
  // runs at the start of the container rather than as an init container:
  // an init container runs once per pod, but a redis container restarted in
  // place (its process died) must decide again — the shard may have failed
  // over meanwhile, and a master back from its own older AOF must not take
  // writes again.
  json redis = {
      {"name", "redis"},
      {"image", spec.images.server},
      {"command", json::array({"redkube-server-start"})},
      {"args", json::array({"--configserver",  configserver.value(),
                            "--token-file",    parts::AuthFile(kApiTokenKey),
                            "--cluster",       id.name,
                            "--shard",         ShardId(shard_index),
                            "--password-file", parts::AuthFile(kPasswordKey),
                            "--bind",          "$(POD_IP)",
                            "--port",          std::to_string(kRedisPort),
                            "--dir",           kDataDir,
                            "--include",       std::string(kConfigDir) + "/" + std::string(kRedisConfKey),
                            "--out",           generated,
                            "--exec"})},
      {"env", parts::PodIdentityEnv()},
      {"ports", json::array({{{"name", "redis"}, {"containerPort", kRedisPort}}})},
      // No liveness probe: a server loading a large RDB does not answer for
      // a while, and killing it then only starts the load again. The
      // ConfigServer's prober fails a dead master over.
      {"readinessProbe", parts::TcpProbe(kRedisPort, 5, 3)},
      {"resources", spec.resources.server},
      {"securityContext", parts::ContainerSecurityContext()},
      {"volumeMounts", json::array({parts::AuthMount(), ConfigMount(), DataMount()})},
  };
  json sts = parts::Object("apps/v1", "StatefulSet",
                           parts::Metadata(id, ShardStatefulSetName(id.name, shard_index),
                                           ShardObjectLabels(id.name, shard_index)));
  sts["spec"] = {
      {"serviceName", ShardStatefulSetName(id.name, shard_index)},
      {"replicas", 1 + spec.replicas_per_shard},
      // Parallel: who is master is the ConfigServer's record, not the pod
      // ordinal, so nothing is gained by ordering, and OrderedReady would
      // hold back the recreation of member 1 while member 0 is down (its
      // node gone) — leaving the shard with no server at all.
      {"podManagementPolicy", "Parallel"},
      // OnDelete: the operator upgrades servers one pod at a time (switch
      // over first, grace for the proxies); a controller-driven rolling
      // update would restart a master under its clients.
      {"updateStrategy", {{"type", "OnDelete"}}},
      // Deleting the RedisCluster deletes its data (the PVCs go with the
      // StatefulSet: everything the resource made is gone, and a new
      // cluster of the same name never starts from an old one's AOF). A
      // scale-in keeps them until the operator's workflow removes the shard.
      {"persistentVolumeClaimRetentionPolicy", {{"whenDeleted", "Delete"}, {"whenScaled", "Retain"}}},
      {"selector", {{"matchLabels", selector}}},
      {"template",
       {{"metadata", {{"labels", ShardObjectLabels(id.name, shard_index)}}},
        {"spec",
         {{"securityContext", parts::PodSecurityContext()},
          // A master and its replica never share a node.
          {"affinity", parts::RequiredHostAntiAffinity(selector)},
          {"terminationGracePeriodSeconds", spec.upgrade_grace_seconds},
          {"containers", json::array({redis})},
          {"volumes", json::array({parts::AuthVolume(spec, id), ConfigVolume(id)})}}}}},
      {"volumeClaimTemplates",
       json::array({parts::ClaimTemplate("data", spec.storage.class_name, spec.storage.size)})},
  };
  return sts;
}

json ShardHeadlessService(const RedisClusterSpec&, const ClusterIdentity& id, int shard_index) {
  return parts::Service(id, ShardStatefulSetName(id.name, shard_index),
                        ShardObjectLabels(id.name, shard_index), ShardSelectorLabels(id.name, shard_index),
                        json::array({parts::ServicePort("redis", kRedisPort)}), /*headless=*/true);
}

json ShardPodDisruptionBudget(const RedisClusterSpec&, const ClusterIdentity& id, int shard_index) {
  return parts::PodDisruptionBudget(id, ShardStatefulSetName(id.name, shard_index),
                                    ShardObjectLabels(id.name, shard_index),
                                    ShardSelectorLabels(id.name, shard_index));
}

}  // namespace redkube::op
