// The desired Kubernetes objects of a RedisCluster, as pure functions of its
// spec, its identity and what the operator has observed (the Services'
// ClusterIPs, the generated secrets). No I/O, no clock, no randomness:
// building twice gives the same JSON, so a server-side apply of the result
// changes nothing when nothing changed, and puts back any drift.
//
// Every object is complete for server-side apply (apiVersion, kind,
// metadata.name/namespace/labels/ownerReferences, spec) and carries the
// labels of object_names.h and an owner reference to the RedisCluster
// (controller, blockOwnerDeletion), so deleting the resource deletes them.
//
// The pods follow docs/operator.md "Containers": every container binds the
// pod IP (POD_IP, downward API), sets its command explicitly, and reads the
// password and API token from files under /etc/redkube/auth, never from
// arguments or environment variables.
//
// Builders whose object needs an address the operator has not observed yet
// (a Service without a ClusterIP) return an error saying which, and the
// reconciler waits.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "operator/object_names.h"
#include "operator/redis_cluster.h"

namespace redkube::op {

// What the builders need that only the cluster can tell: read back from the
// Services once applied (no cluster DNS is assumed).
struct ObservedAddresses {
  std::string configserver_cluster_ip;  // Service NAME-configserver
  std::string etcd_client_cluster_ip;   // Service NAME-etcd-client; unused with spec.etcd.endpoints
};

// The generated contents of NAME-auth. Generated once (GenerateSecretValue)
// and then read back from the Secret: building with other values would
// rotate them under running pods.
struct AuthValues {
  std::string password;   // unused when spec.passwordSecret.name is set
  std::string api_token;  // the ConfigServer API's bearer token
};

// "http://CLUSTER_IP:8080", or an error while the Service has no ClusterIP.
Result<std::string> ConfigServerUrl(const ObservedAddresses& addresses);
// spec.etcd.endpoints[0], or "http://CLUSTER_IP:2379" of NAME-etcd-client.
Result<std::string> EtcdUrl(const RedisClusterSpec& spec, const ObservedAddresses& addresses);

// The owner reference to the RedisCluster every object carries.
nlohmann::json OwnerReference(const ClusterIdentity& id);

// ---- credentials and configuration ----

// Secret NAME-auth: api-token, and password unless spec.passwordSecret.name
// names the user's own Secret (the pods then mount that key as "password").
nlohmann::json AuthSecret(const RedisClusterSpec& spec, const ClusterIdentity& id, const AuthValues& values);
// spec.redisConfig as redis.conf lines, "key value", sorted by key; an error
// (ValidateRedisConfig) for a platform-owned key or a multi-line value.
Result<std::string> RedisConfText(const std::map<std::string, std::string>& config);
// ConfigMap NAME-server-config, key redis.conf.
Result<nlohmann::json> ServerConfigMap(const RedisClusterSpec& spec, const ClusterIdentity& id);

// ---- control plane: etcd (unless spec.etcd.endpoints) and the ConfigServer ----

// StatefulSet NAME-etcd: spec.etcd.members members, PVC template "data".
nlohmann::json EtcdStatefulSet(const RedisClusterSpec& spec, const ClusterIdentity& id);
// Headless Service NAME-etcd (the StatefulSet's serviceName; peers' DNS names).
nlohmann::json EtcdHeadlessService(const RedisClusterSpec& spec, const ClusterIdentity& id);
// ClusterIP Service NAME-etcd-client, port 2379: the ConfigServer's etcd URL.
nlohmann::json EtcdClientService(const RedisClusterSpec& spec, const ClusterIdentity& id);
// PDB NAME-etcd, maxUnavailable 1 (keeps the quorum of 3 through drains).
nlohmann::json EtcdPodDisruptionBudget(const RedisClusterSpec& spec, const ClusterIdentity& id);

// Deployment NAME-configserver: 2 replicas (one leader, one standby).
Result<nlohmann::json> ConfigServerDeployment(const RedisClusterSpec& spec, const ClusterIdentity& id,
                                              const ObservedAddresses& addresses);
// ClusterIP Service NAME-configserver, port 8080.
nlohmann::json ConfigServerService(const RedisClusterSpec& spec, const ClusterIdentity& id);
// PDB NAME-configserver, maxUnavailable 1.
nlohmann::json ConfigServerPodDisruptionBudget(const RedisClusterSpec& spec, const ClusterIdentity& id);

// ---- shards ----

// StatefulSet NAME-shard-K: 1 + replicasPerShard pods, required pod
// anti-affinity on kubernetes.io/hostname within the shard, PVC template
// "data", init container server-start, container redis.
Result<nlohmann::json> ShardStatefulSet(const RedisClusterSpec& spec, const ClusterIdentity& id,
                                        int shard_index, const ObservedAddresses& addresses);
// Headless Service NAME-shard-K (publishNotReadyAddresses: a pod has its
// name before it is ready, the start step runs before readiness).
nlohmann::json ShardHeadlessService(const RedisClusterSpec& spec, const ClusterIdentity& id, int shard_index);
// PDB NAME-shard-K, maxUnavailable 1.
nlohmann::json ShardPodDisruptionBudget(const RedisClusterSpec& spec, const ClusterIdentity& id,
                                        int shard_index);

// ---- proxies ----

// Deployment NAME-proxy. spec.replicas is deliberately left out: the HPA owns
// it, and a re-apply (force=true) that set it would undo the HPA's scaling
// every reconcile. The HPA raises a new Deployment (1 replica) to minReplicas
// at its first sync even without metrics; to start with minReplicas at once,
// merge-patch ProxyInitialScale() on the Deployment's /scale after creating it.
Result<nlohmann::json> ProxyDeployment(const RedisClusterSpec& spec, const ClusterIdentity& id,
                                       const ObservedAddresses& addresses);
// {"spec": {"replicas": minReplicas}}, for the /scale subresource (an update,
// not an apply, so the operator's apply never owns spec.replicas).
nlohmann::json ProxyInitialScale(const RedisClusterSpec& spec);
// ClusterIP Service NAME-proxy: 6379 (clients), 8081 (admin).
nlohmann::json ProxyService(const RedisClusterSpec& spec, const ClusterIdentity& id);
// HPA NAME-proxy (autoscaling/v2): minReplicas..maxReplicas on CPU utilization.
nlohmann::json ProxyHorizontalPodAutoscaler(const RedisClusterSpec& spec, const ClusterIdentity& id);
// PDB NAME-proxy, maxUnavailable 1.
nlohmann::json ProxyPodDisruptionBudget(const RedisClusterSpec& spec, const ClusterIdentity& id);

}  // namespace redkube::op
