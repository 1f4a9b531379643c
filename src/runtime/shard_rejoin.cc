#include "runtime/shard_rejoin.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(200);

const json* FindShard(const json& record, const std::string& id) {
  if (!record.contains("shards") || !record["shards"].is_array()) return nullptr;
  for (const auto& shard : record["shards"]) {
    if (shard.value("id", "") == id) return &shard;
  }
  return nullptr;
}

bool Contains(const json& list, const std::string& value) {
  if (!list.is_array()) return false;
  for (const auto& v : list) {
    if (v.is_string() && v.get<std::string>() == value) return true;
  }
  return false;
}

}  // namespace

ShardRejoin::ShardRejoin(Platform* platform, ControlPlane control_plane, std::string cluster,
                         std::chrono::milliseconds failover_wait, std::chrono::milliseconds register_wait)
    : platform_(platform),
      control_plane_(std::move(control_plane)),
      cluster_(std::move(cluster)),
      failover_wait_(failover_wait),
      register_wait_(register_wait) {}

std::optional<HostPort> ShardRejoin::BeforeRestart(const std::string& group, const Member& member) {
  ConfigServerClient configserver(control_plane_);
  const std::string self = member.address.ToString();
  const auto deadline = Clock::now() + failover_wait_;
  while (!stopping_) {
    auto record = configserver.GetCluster(cluster_);
    if (record.ok()) {
      const json* shard = FindShard(record.value(), group);
      if (shard == nullptr || !Contains(shard->value("nodes", json::array()), self)) return std::nullopt;
      std::string master = shard->value("master", "");
      if (!master.empty() && master != self) {
        auto parsed = ParseHostPort(master);
        if (parsed.ok()) return parsed.value();
        return std::nullopt;
      }
      if (shard->value("nodes", json::array()).size() < 2) return std::nullopt;  // no one to fail over to
    }
    if (Clock::now() > deadline) {
      spdlog::warn("{} was {}'s master and no failover happened within {} ms; starting it as it was", self,
                   group, failover_wait_.count());
      return std::nullopt;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return std::nullopt;
}

void ShardRejoin::AfterRestart(const std::string& group, const Member& member) {
  ConfigServerClient configserver(control_plane_);
  const auto deadline = Clock::now() + register_wait_;
  std::string last_error;
  while (!stopping_ && Clock::now() < deadline) {
    Status ready = platform_->WaitMembersReady(group, std::chrono::seconds(2));
    Status registered = ready.ok() ? RegisterGroup(platform_, configserver, cluster_, group) : ready;
    if (registered.ok()) {
      spdlog::info("{} ({}) is back in {}", member.name, member.address.ToString(), group);
      return;
    }
    last_error = registered.message();
    std::this_thread::sleep_for(kPollInterval);
  }
  if (!stopping_) spdlog::warn("{} could not be registered again: {}", member.name, last_error);
}

}  // namespace redkube::runtime
