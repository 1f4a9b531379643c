#include "runtime/shard_steps.h"

#include <algorithm>
#include <thread>

namespace redkube::runtime {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(100);

}  // namespace

Status RegisterGroup(Platform* platform, ConfigServerClient& configserver, const std::string& cluster,
                     const std::string& group) {
  auto listed = platform->ListMembers(group);
  if (!listed.ok()) return Status::Error("list " + group + ": " + listed.error());
  std::vector<std::string> nodes;
  for (const auto& m : listed.value()) nodes.push_back(m.address.ToString());
  return configserver.RegisterShard(cluster, group, nodes);
}

std::vector<std::string> RecordShardIds(const json& record) {
  std::vector<std::string> ids;
  if (!record.is_object() || !record.contains("shards") || !record["shards"].is_array()) return ids;
  for (const auto& shard : record["shards"]) ids.push_back(shard.value("id", ""));
  return ids;
}

std::string ReplicationMissing(const json& record, int members, const std::vector<std::string>& shards) {
  if (!record.is_object() || !record.contains("shards") || !record["shards"].is_array())
    return "no record yet";
  for (const auto& wanted : shards) {
    std::vector<std::string> have = RecordShardIds(record);
    if (std::find(have.begin(), have.end(), wanted) == have.end()) return wanted + " is not in the record";
  }
  for (const auto& shard : record["shards"]) {
    std::string id = shard.value("id", "?");
    if (!shards.empty() && std::find(shards.begin(), shards.end(), id) == shards.end()) continue;
    if (shard.value("master", "").empty()) return id + " has no master";
    size_t nodes = shard.value("nodes", json::array()).size();
    if (static_cast<int>(nodes) != members) {
      return id + " has " + std::to_string(nodes) + " of " + std::to_string(members) + " nodes registered";
    }
    size_t down = shard.value("down", json::array()).size();
    if (down > 0) return id + " has " + std::to_string(down) + " replica(s) not in sync";
  }
  return "";
}

Status WaitReplicasInSync(ConfigServerClient& configserver, const std::string& cluster, int members,
                          const std::vector<std::string>& shards, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string missing;
  for (;;) {
    auto record = configserver.GetCluster(cluster);
    missing = record.ok() ? ReplicationMissing(record.value(), members, shards) : record.error();
    if (missing.empty()) return Status::Ok();
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status::Error("timed out after " + std::to_string(timeout.count()) + " ms: " + missing);
}

}  // namespace redkube::runtime
