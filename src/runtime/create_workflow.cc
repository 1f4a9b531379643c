#include "runtime/create_workflow.h"

#include <thread>

#include "runtime/configserver_client.h"

namespace redkube::runtime {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(100);

Status InStep(const std::string& step, const Status& s) {
  return s.ok() ? s : Status::Error(step + ": " + s.message());
}

// What is still missing before every shard has its master and all its
// replicas in sync (the ConfigServer keeps a joining replica in "down" until
// its link is up); empty when nothing is.
std::string ReplicationMissing(const json& record, int members) {
  if (!record.contains("shards") || !record["shards"].is_array()) return "no record yet";
  for (const auto& shard : record["shards"]) {
    std::string id = shard.value("id", "?");
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

}  // namespace

std::string ShardGroupName(int shard) { return "shard-" + std::to_string(shard); }

CreateWorkflow::CreateWorkflow(Platform* platform, ClusterShape shape, ProgressReporter progress,
                               std::chrono::milliseconds step_timeout)
    : platform_(platform),
      shape_(std::move(shape)),
      progress_(std::move(progress)),
      step_timeout_(step_timeout) {}

Result<ControlPlane> CreateWorkflow::Run() {
  const int members = 1 + shape_.replicas;

  progress_("control plane: etcd and ConfigServers");
  auto control_plane = platform_->EnsureControlPlane();
  if (!control_plane.ok()) return InStep("control plane", control_plane.status());
  ConfigServerClient configserver(control_plane.value());
  auto record = configserver.EnsureCluster(shape_.name, shape_.shards);
  if (!record.ok()) return InStep("cluster record", record.status());

  progress_("start every shard's servers (" + std::to_string(shape_.shards) + " shards x " +
            std::to_string(members) + ")");
  for (int s = 0; s < shape_.shards; ++s) {
    Status started = platform_->EnsureServerGroup(ShardGroupName(s), members, shape_.server_version);
    if (!started.ok()) return InStep("start " + ShardGroupName(s), started);
  }

  progress_("wait until all answer");
  for (int s = 0; s < shape_.shards; ++s) {
    Status ready = platform_->WaitMembersReady(ShardGroupName(s), step_timeout_);
    if (!ready.ok()) return InStep("wait for " + ShardGroupName(s), ready);
  }

  progress_("register them with the ConfigServer (it sets up replication)");
  for (int s = 0; s < shape_.shards; ++s) {
    auto listed = platform_->ListMembers(ShardGroupName(s));
    if (!listed.ok()) return InStep("list " + ShardGroupName(s), listed.status());
    std::vector<std::string> nodes;
    for (const auto& m : listed.value()) nodes.push_back(m.address.ToString());
    Status registered = configserver.RegisterShard(shape_.name, ShardGroupName(s), nodes);
    if (!registered.ok()) return InStep("register", registered);
  }

  progress_("wait for replicas in sync");
  if (Status synced = WaitReplicasInSync(configserver); !synced.ok()) return InStep("replication", synced);

  progress_("start the proxies (" + std::to_string(shape_.proxies) + ")");
  if (Status s = platform_->EnsureProxies(shape_.proxies, control_plane.value()); !s.ok()) {
    return InStep("start proxies", s);
  }
  if (Status s = platform_->WaitProxiesReady(step_timeout_); !s.ok()) return InStep("wait for proxies", s);
  return control_plane;
}

Status CreateWorkflow::WaitReplicasInSync(ConfigServerClient& configserver) {
  const auto deadline = Clock::now() + step_timeout_;
  std::string missing;
  for (;;) {
    auto record = configserver.GetCluster(shape_.name);
    missing = record.ok() ? ReplicationMissing(record.value(), 1 + shape_.replicas) : record.error();
    if (missing.empty()) return Status::Ok();
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status::Error("timed out after " + std::to_string(step_timeout_.count()) + " ms: " + missing);
}

}  // namespace redkube::runtime
