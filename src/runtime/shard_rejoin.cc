#include "runtime/shard_rejoin.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "runtime/server_start.h"
#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(200);

}  // namespace

ShardRejoin::ShardRejoin(Platform* platform, ControlPlane control_plane, std::string cluster,
                         std::chrono::milliseconds failover_wait, std::chrono::milliseconds register_wait)
    : platform_(platform),
      control_plane_(std::move(control_plane)),
      cluster_(std::move(cluster)),
      failover_wait_(failover_wait),
      register_wait_(register_wait) {}

std::optional<HostPort> ShardRejoin::BeforeRestart(const std::string& group, const Member& member) {
  // The local runtime's addresses never change: the previous address is
  // the current one.
  ConfigServerClient configserver(control_plane_);
  const std::string self = member.address.ToString();
  ServerStartDecision decision =
      DecideWithConfigServer(configserver, cluster_, group, self, self, failover_wait_, &stopping_);
  if (decision.role == ServerStartDecision::Role::kMaster) {
    spdlog::info("{} ({}) starts again as a master: {}", member.name, self, decision.reason);
  }
  return decision.master;
}

void ShardRejoin::AfterRestart(const std::string& group, const Member& member) {
  ConfigServerClient configserver(control_plane_);
  const auto deadline = Clock::now() + register_wait_;
  std::string last_error;
  while (!stopping_ && Clock::now() < deadline) {
    Status ready = WaitMembersReady(platform_, group, std::chrono::seconds(2));
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
