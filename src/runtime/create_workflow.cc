#include "runtime/create_workflow.h"

#include <algorithm>

#include "runtime/configserver_client.h"
#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

Status InStep(const std::string& step, const Status& s) {
  return s.ok() ? s : Status::Error(step + ": " + s.message());
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

  // An interrupted `redkube scale` can leave a server group that its record
  // does not have yet (scale out: started, not added) or any more (scale in:
  // deleted, not yet removed); it runs but is not registered, and the next
  // `redkube scale` finishes the job.
  const std::vector<std::string> in_record = RecordShardIds(record.value());
  progress_("register them with the ConfigServer (it sets up replication)");
  for (int s = 0; s < shape_.shards; ++s) {
    if (std::find(in_record.begin(), in_record.end(), ShardGroupName(s)) == in_record.end()) {
      progress_(ShardGroupName(s) + " is not in the cluster record (an interrupted scale); " +
                "`redkube scale` finishes it");
      continue;
    }
    Status registered = RegisterGroup(platform_, configserver, shape_.name, ShardGroupName(s));
    if (!registered.ok()) return InStep("register", registered);
  }

  progress_("wait for replicas in sync");
  if (Status synced = WaitReplicasInSync(configserver, shape_.name, 1 + shape_.replicas, {}, step_timeout_);
      !synced.ok()) {
    return InStep("replication", synced);
  }

  progress_("start the proxies (" + std::to_string(shape_.proxies) + ")");
  if (Status s = platform_->EnsureProxies(shape_.proxies, control_plane.value()); !s.ok()) {
    return InStep("start proxies", s);
  }
  if (Status s = platform_->WaitProxiesReady(step_timeout_); !s.ok()) return InStep("wait for proxies", s);
  return control_plane;
}

}  // namespace redkube::runtime
