// The Kubernetes implementation of the workflows' platform interface
// (runtime/platform.h): a server group is a shard's StatefulSet (with its
// headless Service and PDB), the proxy fleet the proxy Deployment (with its
// Service, HPA and PDB), the control plane etcd and the ConfigServer
// Deployment. Every Ensure* is a server-side apply of the builders' objects
// (object_builders.h), so it is idempotent and puts back drift; every query
// reads the API server and never waits, so the reconciler steps the creation
// workflow and requeues instead of blocking.
//
// A server member is a pod: its address is the pod IP (docs/operator.md,
// "Servers are registered by pod IP"), its name the platform's "shard-K-M".
// Restarted containers need no observer: the pod's start step
// (redkube-server-start) decides how redis-server starts each time.
//
// One object per reconcile; not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "operator/kube/kube_client.h"
#include "operator/object_builders.h"
#include "operator/redis_cluster.h"
#include "runtime/platform.h"

namespace redkube::op {

class KubePlatform : public runtime::Platform {
 public:
  // `client` outlives the platform. `auth`: the cluster's Secret values (read
  // back from NAME-auth, or generated once before it exists).
  KubePlatform(kube::KubeClient* client, ClusterIdentity id, RedisClusterSpec spec, AuthValues auth);

  void SetServerRestartObserver(runtime::ServerRestartObserver*) override {}
  Result<runtime::ControlPlane> EnsureControlPlane() override;
  Status EnsureServerGroup(const std::string& group, int size, const std::string& version) override;
  Result<runtime::Readiness> MembersReady(const std::string& group) override;
  Result<std::vector<runtime::Member>> ListMembers(const std::string& group) override;
  Status ReplaceMember(const std::string& group, int index) override;
  Status RemoveServerGroup(const std::string& group) override;
  Result<std::vector<std::string>> ListServerGroups() override;
  Status EnsureProxies(int count, const runtime::ControlPlane& control_plane) override;
  Result<runtime::Readiness> ProxiesReady() override;
  std::vector<runtime::Member> ListProxies() override;

  // The proxy Service's "CLUSTER_IP:6379", once applied (or read).
  Result<std::string> ProxyServiceAddress();
  // The ConfigServer's control plane without applying anything (the
  // ConfigServer Service must exist): for the finalizer and status.
  Result<runtime::ControlPlane> ObserveControlPlane();

  // "shard-K" -> K, or nothing for another name.
  static std::optional<int> ShardIndex(const std::string& group);

 private:
  Result<nlohmann::json> Apply(const kube::Resource& resource, const nlohmann::json& object);
  Status ApplyAll(const kube::Resource& resource, const std::vector<nlohmann::json>& objects);
  // The pods of a shard (or the proxies), terminating ones left out, by name.
  Result<std::vector<nlohmann::json>> Pods(const std::string& selector);
  std::string Selector(std::string_view component, const std::string& shard = "") const;
  static std::string ClusterIp(const nlohmann::json& service);

  kube::KubeClient* client_;
  ClusterIdentity id_;
  RedisClusterSpec spec_;
  AuthValues auth_;
  ObservedAddresses addresses_;
};

// Whether a pod's Ready condition is True (and it is not being deleted).
bool PodReady(const nlohmann::json& pod);

}  // namespace redkube::op
