// The Redis commands the ConfigServer uses to read and change replication:
// INFO replication (probe, which is also the health check), REPLICAOF host port with the cluster password as
// masterauth, REPLICAOF NO ONE (promote), FAILOVER (planned switchover).
// Each call opens its own short connection, so it is safe from any thread.
#pragma once

#include <chrono>
#include <string>

#include "configserver/failover_planner.h"
#include "core/redis_client.h"
#include "core/status.h"

namespace redkube::configserver {

class ReplicationControl {
 public:
  ReplicationControl(std::string password, std::chrono::milliseconds timeout);

  // Reads role, master and offset from INFO replication. `client` is kept
  // by the caller so repeated probes reuse one connection.
  static Result<NodeHealth> Probe(RedisClient* client);
  Result<NodeHealth> Probe(const std::string& node) const;

  // How the platform sets replication up on every server (docs/configserver.md,
  // "Partition-safe failover"). A master PINGs its replicas every second, so
  // a replica's master_last_io_seconds_ago is at most about 1 on a live
  // link and a silent one shows within a second or two; repl-timeout stays
  // well above that (a replica drops a silent link only after it).
  static constexpr int kPingReplicaPeriodS = 1;
  static constexpr int kReplTimeoutS = 10;
  // A master with a replica in sync refuses writes (-NOREPLICAS) once no
  // replica has acknowledged its stream for this long: a master cut off
  // from its replicas (and from us, or we would lower it) stops
  // acknowledging writes that no replica holds within about 2-3 s.
  static constexpr int kMinReplicasMaxLagS = 2;

  Status Follow(const std::string& node, const std::string& master) const;
  // min-replicas-to-write 0 first (see SetMinReplicas), then REPLICAOF NO ONE.
  Status Promote(const std::string& node) const;
  // CONFIG SET min-replicas-to-write N min-replicas-max-lag kMinReplicasMaxLagS.
  Status SetMinReplicas(const std::string& node, int replicas) const;
  // CONFIG SET repl-ping-replica-period and repl-timeout (above).
  Status ConfigureLinks(const std::string& node) const;
  // FAILOVER TO target: the master pauses writes until the target has its
  // whole stream, then they swap roles. Returns once the command is accepted.
  Status StartFailover(const std::string& master, const std::string& target,
                       std::chrono::milliseconds timeout) const;
  Status AbortFailover(const std::string& master) const;

  std::unique_ptr<RedisClient> Connect(const std::string& node) const;

 private:
  Result<RedisReply> Run(const std::string& node, const std::vector<std::string>& argv) const;

  std::string password_;
  std::chrono::milliseconds timeout_;
};

}  // namespace redkube::configserver
