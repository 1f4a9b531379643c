#include "runtime/shard_steps.h"

#include <algorithm>
#include <set>
#include <thread>

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(100);

}  // namespace

Status RegisterGroup(Platform* platform, ConfigServerApi& configserver, const std::string& cluster,
                     const std::string& group) {
  auto listed = platform->ListMembers(group);
  if (!listed.ok()) return Status::Error("list " + group + ": " + listed.error());
  std::vector<std::string> nodes;
  for (const auto& m : listed.value()) nodes.push_back(m.address.ToString());
  return configserver.RegisterShard(cluster, group, nodes);
}

bool RegisteredAs(const ShardView* shard, const std::vector<std::string>& addresses) {
  if (shard == nullptr || shard->master.empty()) return false;
  std::vector<std::string> have = shard->Addresses();
  return std::set<std::string>(have.begin(), have.end()) ==
             std::set<std::string>(addresses.begin(), addresses.end()) &&
         have.size() == addresses.size();
}

std::string ReplicationMissing(const ClusterView& record, int members,
                               const std::vector<std::string>& shards) {
  for (const auto& wanted : shards) {
    if (record.Shard(wanted) == nullptr) return wanted + " is not in the record";
  }
  for (const auto& shard : record.shards) {
    if (!shards.empty() && std::find(shards.begin(), shards.end(), shard.id) == shards.end()) continue;
    if (shard.master.empty()) return shard.id + " has no master";
    if (static_cast<int>(shard.nodes.size()) != members) {
      return shard.id + " has " + std::to_string(shard.nodes.size()) + " of " + std::to_string(members) +
             " nodes registered";
    }
    if (int down = shard.OutOfSync(); down > 0) {
      return shard.id + " has " + std::to_string(down) + " replica(s) not in sync";
    }
  }
  return "";
}

Status WaitReplicasInSync(ConfigServerApi& configserver, const std::string& cluster, int members,
                          const std::vector<std::string>& shards, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string missing;
  for (;;) {
    auto record = configserver.FindCluster(cluster);
    missing = !record.ok()      ? record.error()
              : !record.value() ? "no record of cluster " + cluster
                                : ReplicationMissing(*record.value(), members, shards);
    if (missing.empty()) return Status::Ok();
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status::Error("timed out after " + std::to_string(timeout.count()) + " ms: " + missing);
}

}  // namespace redkube::runtime
