#include "operator/object_names.h"

namespace redkube::op {

using nlohmann::json;

std::string ShardId(int k) { return "shard-" + std::to_string(k); }

std::string AuthSecretName(const std::string& cluster) { return cluster + "-auth"; }
std::string ServerConfigMapName(const std::string& cluster) { return cluster + "-server-config"; }
std::string EtcdName(const std::string& cluster) { return cluster + "-etcd"; }
std::string EtcdClientServiceName(const std::string& cluster) { return cluster + "-etcd-client"; }
std::string EtcdPodName(const std::string& cluster, int i) {
  return EtcdName(cluster) + "-" + std::to_string(i);
}
std::string ConfigServerName(const std::string& cluster) { return cluster + "-configserver"; }
std::string ShardStatefulSetName(const std::string& cluster, int shard_index) {
  return cluster + "-" + ShardId(shard_index);
}
std::string ShardPodName(const std::string& cluster, int shard_index, int member) {
  return ShardStatefulSetName(cluster, shard_index) + "-" + std::to_string(member);
}
std::string ShardMemberName(int shard_index, int member) {
  return ShardId(shard_index) + "-" + std::to_string(member);
}
std::string ProxyName(const std::string& cluster) { return cluster + "-proxy"; }

json SelectorLabels(const std::string& cluster, std::string_view component) {
  return {{kLabelName, "redkube"}, {kLabelInstance, cluster}, {kLabelComponent, component}};
}

json ShardSelectorLabels(const std::string& cluster, int shard_index) {
  json labels = SelectorLabels(cluster, kComponentServer);
  labels[std::string(kLabelShard)] = ShardId(shard_index);
  return labels;
}

json ObjectLabels(const std::string& cluster, std::string_view component) {
  json labels = SelectorLabels(cluster, component);
  labels[std::string(kLabelManagedBy)] = kManagedBy;
  labels[std::string(kLabelCluster)] = cluster;
  return labels;
}

json ShardObjectLabels(const std::string& cluster, int shard_index) {
  json labels = ObjectLabels(cluster, kComponentServer);
  labels[std::string(kLabelShard)] = ShardId(shard_index);
  return labels;
}

}  // namespace redkube::op
