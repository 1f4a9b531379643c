// The steps on one shard that more than one workflow takes (create, scale,
// a restarted member rejoining): register a server group's members with the
// ConfigServer, and wait until shards have their master and every replica
// in sync. Written against the Platform interface, like the workflows.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/cluster_view.h"
#include "runtime/configserver_api.h"
#include "runtime/platform.h"

namespace redkube::runtime {

// Registers every member of server group `group` as the nodes of the shard
// of the same id (the first member is the master of a new shard).
Status RegisterGroup(Platform* platform, ConfigServerApi& configserver, const std::string& cluster,
                     const std::string& group);

// Whether `shard` (null: not in the record) has a master and exactly
// `addresses` as its nodes, in any order: registering them again would
// change nothing. Pure.
bool RegisteredAs(const ShardView* shard, const std::vector<std::string>& addresses);

// What is still missing before each of `shards` (every shard of the record
// when empty) has its master and `members` nodes registered, all in sync
// (the ConfigServer keeps a joining replica in "down" until its link is
// up); empty when nothing is. Pure.
std::string ReplicationMissing(const ClusterView& record, int members,
                               const std::vector<std::string>& shards = {});

// Polls the record until ReplicationMissing says nothing, or fails at
// `timeout` with what was still missing.
Status WaitReplicasInSync(ConfigServerApi& configserver, const std::string& cluster, int members,
                          const std::vector<std::string>& shards, std::chrono::milliseconds timeout);

}  // namespace redkube::runtime
