// The steps on one shard that more than one workflow takes (create, scale,
// a restarted member rejoining): register a server group's members with the
// ConfigServer, and wait until shards have their master and every replica
// in sync. Written against the Platform interface, like the workflows.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/configserver_client.h"
#include "runtime/platform.h"

namespace redkube::runtime {

// Registers every member of server group `group` as the nodes of the shard
// of the same id (the first member is the master of a new shard).
Status RegisterGroup(Platform* platform, ConfigServerClient& configserver, const std::string& cluster,
                     const std::string& group);

// What is still missing before each of `shards` (every shard of the record
// when empty) has its master and `members` nodes registered, all in sync
// (the ConfigServer keeps a joining replica in "down" until its link is
// up); empty when nothing is. Pure.
std::string ReplicationMissing(const nlohmann::json& record, int members,
                               const std::vector<std::string>& shards = {});

// Polls the record until ReplicationMissing says nothing, or fails at
// `timeout` with what was still missing.
Status WaitReplicasInSync(ConfigServerClient& configserver, const std::string& cluster, int members,
                          const std::vector<std::string>& shards, std::chrono::milliseconds timeout);

// The ids of the shards in a cluster record, in its order.
std::vector<std::string> RecordShardIds(const nlohmann::json& record);

}  // namespace redkube::runtime
