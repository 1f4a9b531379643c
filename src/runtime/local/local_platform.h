// The Platform as processes on 127.0.0.1, playing Kubernetes' part on one
// machine: etcd, two ConfigServers, each shard's redis-servers (a data dir
// each, like a PVC; persistence on; the cluster password from a 0600 config
// file, like a mounted Secret) and the proxies, all kept running by a
// ProcessSupervisor. The supervisor's view is written to
// run/processes.json after every change, for `redkube status` and `down`.
//
// Server groups are shard-0 .. shard-(K-1), added at the end and removed
// from the end (a scale), and cluster.json's "shards" is always K, so the
// next `up` brings back every group there is: it is written before a new
// group starts and after one is removed.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/local/local_layout.h"
#include "runtime/local/process_supervisor.h"
#include "runtime/platform.h"

namespace redkube::runtime {

class LocalPlatform : public Platform {
 public:
  // `binary_dir` holds redkube-configserver and redkube-proxy; etcd and
  // redis-server come from PATH.
  LocalPlatform(LocalLayout layout, std::string password, std::string token, std::string binary_dir);
  ~LocalPlatform() override;

  void SetServerRestartObserver(ServerRestartObserver* observer) override { observer_ = observer; }
  Result<ControlPlane> EnsureControlPlane() override;
  Status EnsureServerGroup(const std::string& group, int size, const std::string& version) override;
  Result<Readiness> MembersReady(const std::string& group) override;
  Result<std::vector<Member>> ListMembers(const std::string& group) override;
  Status ReplaceMember(const std::string& group, int index) override;
  Status RemoveServerGroup(const std::string& group) override;
  Result<std::vector<std::string>> ListServerGroups() override;
  Status EnsureProxies(int count, const ControlPlane& control_plane) override;
  Result<Readiness> ProxiesReady() override;
  std::vector<Member> ListProxies() override;

  // Stops everything in the order that keeps data safe: proxies, then
  // ConfigServers (so nothing fails over while servers stop), servers, etcd.
  void StopAll();

 private:
  Result<int> ShardIndex(const std::string& group) const;
  Status StartServer(int shard, int member);
  std::vector<std::string> ServerArgv(int shard, int member, const std::optional<HostPort>& replica_of) const;
  Status WriteServerConfig(int shard, int member, const std::optional<HostPort>& replica_of) const;
  Status WaitHttpOk(const std::string& url, const std::string& what, std::chrono::milliseconds timeout) const;
  // Why `address` does not answer PING now, or nothing when it does.
  std::optional<std::string> PingProblem(const HostPort& address) const;
  Readiness ReadinessOf(const std::vector<Member>& members) const;
  Member MemberOf(const std::string& name, int port) const;
  void WriteProcessesFile();

  LocalLayout layout_;
  std::string password_;
  std::string token_;
  std::string binary_dir_;
  std::atomic<ServerRestartObserver*> observer_{nullptr};
  // Held for the whole of adding or removing a group, so two never
  // interleave their cluster.json writes; taken before mu_.
  std::mutex groups_mu_;
  std::mutex mu_;                           // guards group_count_, group_sizes_ and proxy_count_
  int group_count_;                         // K: the groups shard-0 .. shard-(K-1) exist
  std::map<std::string, int> group_sizes_;  // the groups ensured by this process
  int proxy_count_ = 0;
  std::mutex file_mu_;
  ProcessSupervisor supervisor_;  // last: its keepers call back into the members above
};

}  // namespace redkube::runtime
