#include "runtime/scale_workflow.h"

#include <algorithm>
#include <set>
#include <thread>

#include "runtime/configserver_client.h"
#include "runtime/shard_name.h"
#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;

Status InStep(const std::string& step, const Status& s) {
  return s.ok() ? s : Status::Error(step + ": " + s.message());
}

bool Has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Whether shard `id` of the record has nodes registered.
bool Registered(const ClusterView& record, const std::string& id) {
  const ShardView* shard = record.Shard(id);
  return shard != nullptr && !shard->nodes.empty();
}

}  // namespace

ScaleWorkflow::ScaleWorkflow(Platform* platform, ControlPlane control_plane, ScaleRequest request,
                             StepReporter step, ProgressReporter progress,
                             std::chrono::milliseconds step_timeout, std::chrono::milliseconds poll,
                             const ConfigServerFactory& configserver)
    : platform_(platform),
      configserver_(configserver ? configserver(control_plane)
                                 : std::make_unique<ConfigServerClient>(std::move(control_plane))),
      request_(std::move(request)),
      step_(std::move(step)),
      progress_(std::move(progress)),
      step_timeout_(step_timeout),
      poll_(poll) {}

ScaleWorkflow::~ScaleWorkflow() = default;

Result<ScaleSummary> ScaleWorkflow::Run() {
  if (request_.shards < 1) return Status::Error("a cluster needs at least 1 shard");
  ScaleSummary summary;
  // Migrations still active (an interrupted run, or started by hand) are
  // waited for first: the planner plans from settled owners.
  auto listing = configserver_->ListMigrations(request_.cluster);
  if (!listing.ok()) return InStep("list migrations", listing.status());
  std::vector<std::string> active = ActiveMigrations(listing.value());
  if (!active.empty()) {
    step_("wait for the " + std::to_string(active.size()) + " migration(s) already in progress");
    if (Status s = WaitForMigrations(active, &summary); !s.ok()) return s;
  }
  auto record = configserver_->GetCluster(request_.cluster);
  if (!record.ok()) return InStep("cluster record", record.status());
  if (Status s = AddShards(record.value(), &summary); !s.ok()) return s;
  if (Status s = Rebalance(&summary); !s.ok()) return s;
  if (Status s = RemoveShards(&summary); !s.ok()) return s;
  return summary;
}

Status ScaleWorkflow::AddShards(const ClusterView& record, ScaleSummary* summary) {
  auto groups = platform_->ListServerGroups();
  if (!groups.ok()) return InStep("list server groups", groups.status());
  const std::vector<std::string> in_record = record.ShardIds();
  std::vector<std::string> to_register;
  for (int k = 0; k < request_.shards; ++k) {
    const std::string id = ShardGroupName(k);
    if (!Has(in_record, id) || !Registered(record, id)) to_register.push_back(id);
    if (Has(groups.value(), id)) continue;
    // In order: the local platform's saved shape counts groups 0..K-1.
    step_("start " + id + "'s servers (" + std::to_string(request_.members) + ")");
    Status started = platform_->EnsureServerGroup(id, request_.members, request_.server_version);
    if (!started.ok()) return InStep("start " + id, started);
  }
  if (to_register.empty()) return Status::Ok();
  for (const auto& id : to_register) {
    step_("wait until " + id + "'s servers answer, add and register it");
    if (Status s = WaitMembersReady(platform_, id, step_timeout_); !s.ok())
      return InStep("wait for " + id, s);
    if (Status s = configserver_->AddShard(request_.cluster, id); !s.ok()) return InStep("add " + id, s);
    if (Status s = RegisterGroup(platform_, *configserver_, request_.cluster, id); !s.ok()) {
      return InStep("register " + id, s);
    }
    if (!Has(in_record, id)) summary->added.push_back(id);
  }
  step_("wait for the new shards' replicas in sync");
  return InStep("replication", WaitReplicasInSync(*configserver_, request_.cluster, request_.members,
                                                  to_register, step_timeout_));
}

Status ScaleWorkflow::Rebalance(ScaleSummary* summary) {
  auto record = configserver_->GetCluster(request_.cluster);
  if (!record.ok()) return InStep("cluster record", record.status());
  std::vector<std::string> kept;
  for (int k = 0; k < request_.shards; ++k) kept.push_back(ShardGroupName(k));
  if (SlotsBalanced(record.value(), kept)) return Status::Ok();
  step_("rebalance the slots over " + std::to_string(request_.shards) + " shards");
  auto ids = configserver_->Rebalance(request_.cluster, kept, request_.throttle);
  if (!ids.ok()) return InStep("rebalance", ids.status());
  if (ids->empty()) return Status::Ok();
  step_("move the slots (" + std::to_string(ids->size()) + " migrations)");
  return WaitForMigrations(ids.value(), summary);
}

Status ScaleWorkflow::WaitForMigrations(const std::vector<std::string>& ids, ScaleSummary* summary) {
  // A failing ConfigServer (its leader changing) is waited out for one step
  // timeout; the migrations run on without us meanwhile.
  auto last_answer = Clock::now();
  for (;;) {
    auto listing = configserver_->ListMigrations(request_.cluster);
    if (!listing.ok()) {
      if (Clock::now() - last_answer > step_timeout_)
        return InStep("follow the migrations", listing.status());
      std::this_thread::sleep_for(poll_);
      continue;
    }
    last_answer = Clock::now();
    MigrationProgress progress = SumProgress(listing.value(), ids);
    if (progress_) progress_(progress);
    if (auto failure = MigrationFailure(listing.value(), ids)) {
      return Status::Error(*failure +
                           "; slots already moved stay where they are and every slot has one "
                           "owner. Run the same scale again to go on");
    }
    if (progress.AllFinished()) {
      summary->migrations.insert(summary->migrations.end(), ids.begin(), ids.end());
      summary->moved.total += progress.total;
      summary->moved.finished += progress.finished;
      summary->moved.slots_done += progress.slots_done;
      summary->moved.slots_total += progress.slots_total;
      summary->moved.keys_moved += progress.keys_moved;
      summary->moved.bytes_moved += progress.bytes_moved;
      return Status::Ok();
    }
    std::this_thread::sleep_for(poll_);
  }
}

Status ScaleWorkflow::RemoveShards(ScaleSummary* summary) {
  auto record = configserver_->GetCluster(request_.cluster);
  if (!record.ok()) return InStep("cluster record", record.status());
  auto groups = platform_->ListServerGroups();
  if (!groups.ok()) return InStep("list server groups", groups.status());
  const std::vector<std::string> in_record = record->ShardIds();
  // Shards beyond the new size, in the record or still running: last first,
  // so the local platform's groups stay 0..K-1.
  std::set<int, std::greater<>> beyond;
  for (const auto& ids : {in_record, groups.value()}) {
    for (const auto& id : ids) {
      if (auto k = ShardIndexOf(id); k && *k >= request_.shards) beyond.insert(*k);
    }
  }
  for (int k : beyond) {
    const std::string id = ShardGroupName(k);
    if (Has(in_record, id)) {
      if (int owned = SlotsOwned(record.value(), id); owned > 0) {
        return Status::Error(id + " still owns " + std::to_string(owned) +
                             " slots after the rebalance; nothing removed");
      }
      step_("delete " + id + " from the cluster record");
      if (Status s = configserver_->DeleteShard(request_.cluster, id); !s.ok())
        return InStep("delete " + id, s);
    }
    if (Has(groups.value(), id)) {
      step_("stop " + id + "'s servers and delete their data");
      if (Status s = platform_->RemoveServerGroup(id); !s.ok()) return InStep("remove " + id, s);
    }
    summary->removed.push_back(id);
  }
  return Status::Ok();
}

}  // namespace redkube::runtime
