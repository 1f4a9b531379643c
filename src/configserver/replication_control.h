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

  Status Follow(const std::string& node, const std::string& master) const;
  Status Promote(const std::string& node) const;
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
