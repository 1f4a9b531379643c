// Where each piece of a local cluster listens and keeps its files, derived
// from the cluster's shape and one base port so that every `up` of the same
// cluster uses the same addresses and data dirs (the local counterpart of a
// StatefulSet's stable names and PVCs). Pure: no I/O.
//
//   base+0 .. base+9     proxies (clients connect here; 6380, 6381 by default)
//   base+10, base+11     etcd client, etcd peer
//   base+20, base+21     ConfigServers
//   base+30 .. base+39   proxies' admin HTTP (/metrics, /healthz)
//   base+100+10*s+m      member m of shard s
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/shard_name.h"

namespace redkube::runtime {

// The shape the user asked for; saved with the cluster so `up` brings back
// the same cluster.
struct LocalClusterSpec {
  std::string name = "demo";
  int shards = 3;
  int replicas = 1;
  int proxies = 2;
  int port = 6380;

  std::string ToJson() const;
  static Result<LocalClusterSpec> FromJson(const std::string& text);
};

class LocalLayout {
 public:
  static constexpr int kConfigServers = 2;
  static constexpr int kMaxProxies = 10;
  static constexpr int kMaxMembersPerShard = 10;
  static constexpr int kMaxShards = 64;

  // Fails with a message a user can act on if the shape does not fit the
  // port scheme or the name is not a valid cluster name.
  static Result<LocalLayout> Make(const LocalClusterSpec& spec, const std::string& base_dir);
  // The same cluster with `shards` shards (a scale), or why that many do not
  // fit the port scheme.
  Result<LocalLayout> WithShards(int shards) const;
  // The most shards a cluster on `port` can have.
  static int MaxShards(int port);

  const LocalClusterSpec& spec() const { return spec_; }
  std::string host() const { return "127.0.0.1"; }

  int ProxyPort(int index) const { return spec_.port + index; }
  int ProxyAdminPort(int index) const { return spec_.port + 30 + index; }
  int EtcdClientPort() const { return spec_.port + 10; }
  int EtcdPeerPort() const { return spec_.port + 11; }
  int ConfigServerPort(int index) const { return spec_.port + 20 + index; }
  int ServerPort(int shard, int member) const { return spec_.port + 100 + 10 * shard + member; }
  // Every port the cluster listens on.
  std::vector<int> AllPorts() const;

  // The cluster's directory and the files in it.
  const std::string& ClusterDir() const { return cluster_dir_; }
  std::string SpecFile() const { return cluster_dir_ + "/cluster.json"; }
  std::string PasswordFile() const { return cluster_dir_ + "/password"; }
  std::string TokenFile() const { return cluster_dir_ + "/token"; }
  std::string EtcdDataDir() const { return cluster_dir_ + "/etcd"; }
  std::string ServerDataDir(int shard, int member) const;
  std::string LogDir() const { return cluster_dir_ + "/logs"; }
  std::string LogFile(const std::string& process) const { return LogDir() + "/" + process + ".log"; }
  std::string RunDir() const { return cluster_dir_ + "/run"; }
  std::string LockFile() const { return RunDir() + "/supervisor.lock"; }
  std::string SupervisorPidFile() const { return RunDir() + "/supervisor.pid"; }
  std::string ProcessesFile() const { return RunDir() + "/processes.json"; }
  // The supervisor's control endpoint (PlatformControlServer).
  std::string ControlSocket() const { return RunDir() + "/control.sock"; }

  // Process names, stable across restarts.
  static std::string ShardId(int shard) { return ShardGroupName(shard); }  // the one naming
  static std::string ServerName(int shard, int member);
  static std::string ProxyName(int index) { return "proxy-" + std::to_string(index); }
  static std::string ConfigServerName(int index) { return "configserver-" + std::to_string(index); }

 private:
  LocalLayout(LocalClusterSpec spec, std::string cluster_dir)
      : spec_(std::move(spec)), cluster_dir_(std::move(cluster_dir)) {}
  LocalClusterSpec spec_;
  std::string cluster_dir_;
};

}  // namespace redkube::runtime
