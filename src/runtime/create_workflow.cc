#include "runtime/create_workflow.h"

#include <thread>

#include "runtime/configserver_client.h"
#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using State = StepResult::State;

const char* const kPhases[] = {kPhaseControlPlane, kPhaseClusterRecord, kPhaseServers,
                               kPhaseServersReady, kPhaseRegister,      kPhaseReplication,
                               kPhaseProxies,      kPhaseProxiesReady,  kPhaseReady};

StepResult Waiting(int phase, std::string why) { return {State::kWaiting, kPhases[phase], std::move(why)}; }
StepResult Failed(int phase, std::string why) { return {State::kFailed, kPhases[phase], std::move(why)}; }

}  // namespace

CreateWorkflow::CreateWorkflow(Platform* platform, ClusterShape shape, ProgressReporter progress,
                               std::chrono::milliseconds step_timeout, ConfigServerFactory configserver)
    : platform_(platform),
      shape_(std::move(shape)),
      progress_(std::move(progress)),
      step_timeout_(step_timeout),
      factory_(std::move(configserver)) {
  if (!factory_) {
    factory_ = [](const ControlPlane& plane) { return std::make_unique<ConfigServerClient>(plane); };
  }
}

CreateWorkflow::~CreateWorkflow() = default;

// Says what a phase does the first time a Step() reaches it.
void CreateWorkflow::Enter(int phase) {
  if (phase <= entered_) return;
  entered_ = phase;
  if (!progress_) return;
  const int members = 1 + shape_.replicas;
  switch (phase) {
    case 0:
      return progress_("control plane: etcd and ConfigServers");
    case 1:
      return progress_("the cluster record (" + std::to_string(shape_.shards) + " shards)");
    case 2:
      return progress_("start every shard's servers (" + std::to_string(shape_.shards) + " shards x " +
                       std::to_string(members) + ")");
    case 3:
      return progress_("wait until all answer");
    case 4:
      return progress_("register them with the ConfigServer (it sets up replication)");
    case 5:
      return progress_("wait for replicas in sync");
    case 6:
      return progress_("start the proxies (" + std::to_string(shape_.proxies) + ")");
    case 7:
      return progress_("wait until the proxies answer");
    default:
      return;
  }
}

void CreateWorkflow::NoteOnce(const std::string& note) {
  if (noted_.insert(note).second && progress_) progress_(note);
}

StepResult CreateWorkflow::Step() {
  const int members = 1 + shape_.replicas;

  Enter(0);
  auto plane = platform_->EnsureControlPlane();
  if (!plane.ok()) return Failed(0, plane.error());
  if (!configserver_ || control_plane_ != plane.value()) {
    control_plane_ = plane.value();
    configserver_ = factory_(plane.value());
  }

  Enter(1);
  auto found = configserver_->FindCluster(shape_.name);
  if (!found.ok()) return Waiting(1, found.error());
  if (!found.value() && shape_.record_must_exist) {
    return Failed(1, "the ConfigServer has no record of cluster " + shape_.name +
                         ", which was built before (its etcd lost or replaced): not created again over the "
                         "servers' data");
  }
  if (!found.value()) {
    if (Status s = configserver_->CreateCluster(shape_.name, shape_.shards); !s.ok())
      return Failed(1, s.message());
    found = configserver_->FindCluster(shape_.name);
    if (!found.ok()) return Waiting(1, found.error());
    if (!found.value()) return Waiting(1, "cluster " + shape_.name + " created, not readable yet");
  }
  ClusterView record = std::move(*found.value());
  // Fewer shards in the record than asked is an interrupted scale out (or
  // in): `redkube scale` finishes it. More would leave slots unserved.
  if (static_cast<int>(record.shards.size()) > shape_.shards) {
    return Failed(1, "cluster " + shape_.name + " exists with " + std::to_string(record.shards.size()) +
                         " shards, more than " + std::to_string(shape_.shards));
  }

  Enter(2);
  for (int s = 0; s < shape_.shards; ++s) {
    Status started = platform_->EnsureServerGroup(ShardGroupName(s), members, shape_.server_version);
    if (!started.ok()) return Failed(2, "start " + ShardGroupName(s) + ": " + started.message());
  }

  Enter(3);
  for (int s = 0; s < shape_.shards; ++s) {
    auto ready = platform_->MembersReady(ShardGroupName(s));
    if (!ready.ok()) return Failed(3, ShardGroupName(s) + ": " + ready.error());
    if (!ready->ready) return Waiting(3, ShardGroupName(s) + ": " + ready->waiting_for);
  }

  // An interrupted `redkube scale` can leave a server group that its record
  // does not have yet (scale out: started, not added) or any more (scale in:
  // deleted, not yet removed); it runs but is not registered, and the next
  // `redkube scale` finishes the job.
  Enter(4);
  bool registered = false;
  for (int s = 0; s < shape_.shards; ++s) {
    const std::string id = ShardGroupName(s);
    const ShardView* shard = record.Shard(id);
    if (shard == nullptr) {
      NoteOnce(id + " is not in the cluster record (an interrupted scale); `redkube scale` finishes it");
      continue;
    }
    auto listed = platform_->ListMembers(id);
    if (!listed.ok()) return Failed(4, "list " + id + ": " + listed.error());
    std::vector<std::string> addresses;
    for (const auto& m : listed.value()) addresses.push_back(m.address.ToString());
    if (RegisteredAs(shard, addresses)) continue;
    if (Status s = configserver_->RegisterShard(shape_.name, id, addresses); !s.ok()) {
      return Failed(4, "register " + id + ": " + s.message());
    }
    registered = true;
  }
  if (registered) {
    found = configserver_->FindCluster(shape_.name);
    if (!found.ok()) return Waiting(4, found.error());
    if (!found.value()) return Waiting(4, "cluster " + shape_.name + " is gone from the ConfigServer");
    record = std::move(*found.value());
  }

  Enter(5);
  if (std::string missing = ReplicationMissing(record, members); !missing.empty()) return Waiting(5, missing);

  Enter(6);
  if (Status s = platform_->EnsureProxies(shape_.proxies, control_plane_.value()); !s.ok()) {
    return Failed(6, s.message());
  }
  Enter(7);
  auto proxies = platform_->ProxiesReady();
  if (!proxies.ok()) return Failed(7, proxies.error());
  if (!proxies->ready) return Waiting(7, proxies->waiting_for);
  Enter(8);
  return StepResult{State::kDone, kPhaseReady, ""};
}

Result<ControlPlane> CreateWorkflow::Run(std::chrono::milliseconds poll) {
  std::string phase;
  auto phase_start = Clock::now();
  for (;;) {
    StepResult step = Step();
    if (step.done()) return control_plane_.value();
    if (step.failed()) return Status::Error(step.phase + ": " + step.message);
    if (step.phase != phase) {
      phase = step.phase;
      phase_start = Clock::now();
    }
    if (Clock::now() - phase_start > step_timeout_) {
      return Status::Error(step.phase + ": still waiting after " + std::to_string(step_timeout_.count()) +
                           " ms: " + step.message);
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace redkube::runtime
