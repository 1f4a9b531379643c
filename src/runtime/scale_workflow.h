// The scale workflow of docs/migration.md, written once against the
// Platform interface and the ConfigServer API, for the local runtime and
// the operator alike. Shards are "shard-0" .. "shard-(N-1)" (ShardGroupName).
//
// Out, N -> M: for each new shard, start its server group, wait until its
// members answer, add the shard and register them (the first is master),
// wait for its replicas in sync; then rebalance over all M and wait for
// every migration. In, N -> M: rebalance over shard-0 .. shard-(M-1) (the
// others drain to no slots), wait, then delete each drained shard from the
// record and remove its server group (servers and data), last first.
//
// Resumable and idempotent: each step looks at what is there first, so a
// run after an interruption continues where things are (migrations still
// active: waits for them; shards added already: skipped; a shard deleted
// whose servers still run: removed), and a run at the current size changes
// nothing. A migration that ends failed or cancelled stops the run.
//
// Blocking (Run() waits for servers, replicas and migrations), unlike
// CreateWorkflow::Step(): the operator does not scale yet (spec.shards
// changes are refused), and `redkube scale` wants to follow to the end.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/configserver_api.h"
#include "runtime/platform.h"
#include "runtime/scale_plan.h"

namespace redkube::runtime {

struct ScaleRequest {
  std::string cluster;
  int shards = 0;                   // the size to reach
  int members = 2;                  // per new shard: master + replicas
  std::string server_version = {};  // for new shards; empty: the platform's default
  ConfigServerApi::Throttle throttle;
};

struct ScaleSummary {
  std::vector<std::string> added, removed;  // shard ids
  std::vector<std::string> migrations;      // followed to the end
  MigrationProgress moved;                  // their final counters
};

class ScaleWorkflow {
 public:
  using StepReporter = std::function<void(const std::string& step)>;
  using ProgressReporter = std::function<void(const MigrationProgress&)>;

  // `progress` hears the migrations' counters about every `poll` while the
  // workflow waits for them. `configserver` makes the client of the
  // ConfigServer at `control_plane`; empty: a ConfigServerClient.
  ScaleWorkflow(Platform* platform, ControlPlane control_plane, ScaleRequest request, StepReporter step,
                ProgressReporter progress, std::chrono::milliseconds step_timeout = std::chrono::seconds(60),
                std::chrono::milliseconds poll = std::chrono::milliseconds(500),
                const ConfigServerFactory& configserver = {});
  ~ScaleWorkflow();

  // Runs every step; stops at the first that fails, saying which.
  Result<ScaleSummary> Run();

 private:
  Status AddShards(const ClusterView& record, ScaleSummary* summary);
  Status Rebalance(ScaleSummary* summary);
  Status WaitForMigrations(const std::vector<std::string>& ids, ScaleSummary* summary);
  Status RemoveShards(ScaleSummary* summary);

  Platform* platform_;
  std::unique_ptr<ConfigServerApi> configserver_;  // never null
  ScaleRequest request_;
  StepReporter step_;
  ProgressReporter progress_;
  std::chrono::milliseconds step_timeout_;
  std::chrono::milliseconds poll_;
};

}  // namespace redkube::runtime
