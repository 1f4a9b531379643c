// The names and labels of every object the operator makes for a
// RedisCluster NAME (docs/operator.md, "Objects"), in one place: the
// builders, the reconciler's reads and the platform's member names all come
// from here, so they cannot drift apart.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace redkube::op {

// The ConfigServer's id of shard K: "shard-K". The same function as
// runtime::ShardGroupName (the merge unifies them).
std::string ShardId(int k);

std::string AuthSecretName(const std::string& cluster);       // NAME-auth
std::string ServerConfigMapName(const std::string& cluster);  // NAME-server-config
std::string EtcdName(const std::string& cluster);             // NAME-etcd: StatefulSet, headless Service, PDB
std::string EtcdClientServiceName(const std::string& cluster);  // NAME-etcd-client
std::string EtcdPodName(const std::string& cluster, int i);     // NAME-etcd-I
std::string ConfigServerName(const std::string& cluster);       // NAME-configserver: Deployment, Service, PDB
// NAME-shard-K: the shard's StatefulSet, headless Service and PDB.
std::string ShardStatefulSetName(const std::string& cluster, int shard_index);
std::string ShardPodName(const std::string& cluster, int shard_index, int member);  // NAME-shard-K-M
std::string ShardMemberName(int shard_index, int member);  // shard-K-M: the platform's member name
std::string ProxyName(const std::string& cluster);         // NAME-proxy: Deployment, Service, HPA, PDB

// Secret keys and mount points shared by every pod.
inline constexpr std::string_view kPasswordKey = "password";
inline constexpr std::string_view kApiTokenKey = "api-token";
inline constexpr std::string_view kRedisConfKey = "redis.conf";
inline constexpr std::string_view kAuthDir = "/etc/redkube/auth";
inline constexpr std::string_view kConfigDir = "/etc/redkube/config";
inline constexpr std::string_view kDataDir = "/data";

// Ports.
inline constexpr int kRedisPort = 6379;
inline constexpr int kProxyAdminPort = 8081;
inline constexpr int kConfigServerPort = 8080;
inline constexpr int kEtcdClientPort = 2379;
inline constexpr int kEtcdPeerPort = 2380;

// app.kubernetes.io/component values.
inline constexpr std::string_view kComponentAuth = "auth";
inline constexpr std::string_view kComponentServer = "server";  // the shards and their ConfigMap
inline constexpr std::string_view kComponentEtcd = "etcd";
inline constexpr std::string_view kComponentConfigServer = "configserver";
inline constexpr std::string_view kComponentProxy = "proxy";

inline constexpr std::string_view kLabelName = "app.kubernetes.io/name";
inline constexpr std::string_view kLabelInstance = "app.kubernetes.io/instance";
inline constexpr std::string_view kLabelComponent = "app.kubernetes.io/component";
inline constexpr std::string_view kLabelManagedBy = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kLabelCluster = "redkube.io/cluster";
inline constexpr std::string_view kLabelShard = "redkube.io/shard";
inline constexpr std::string_view kManagedBy = "redkube-operator";

// The labels every object of the cluster carries (the watch on owned kinds
// selects on redkube.io/cluster).
nlohmann::json ObjectLabels(const std::string& cluster, std::string_view component);
// The same plus redkube.io/shard=shard-K.
nlohmann::json ShardObjectLabels(const std::string& cluster, int shard_index);
// The subset a workload's selector uses: no managed-by (a selector is
// immutable, and who manages an object may change).
nlohmann::json SelectorLabels(const std::string& cluster, std::string_view component);
nlohmann::json ShardSelectorLabels(const std::string& cluster, int shard_index);

}  // namespace redkube::op
