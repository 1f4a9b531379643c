// The creation workflow of ARCHITECTURE.md ("Create"), written once against
// the Platform interface: control plane -> every shard's servers -> wait
// until all answer -> register them with the ConfigServer (which sets up
// replication) -> wait for replicas in sync -> proxies -> ready. Running it
// on a cluster that exists brings that cluster back: the ConfigServer keeps
// each shard's recorded master, the servers keep their data.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/status.h"
#include "runtime/platform.h"

namespace redkube::runtime {

struct ClusterShape {
  std::string name;
  int shards = 3;
  int replicas = 1;  // per shard
  int proxies = 2;
  std::string server_version = {};  // empty: the platform's default
};

// Hears each step as it starts ("start every shard's servers (3 x 2)").
using ProgressReporter = std::function<void(const std::string& step)>;

class CreateWorkflow {
 public:
  CreateWorkflow(Platform* platform, ClusterShape shape, ProgressReporter progress,
                 std::chrono::milliseconds step_timeout = std::chrono::seconds(60));

  // Runs every step; stops at the first that fails, saying which. Returns the
  // control plane the cluster runs with.
  Result<ControlPlane> Run();

 private:
  Platform* platform_;
  ClusterShape shape_;
  ProgressReporter progress_;
  std::chrono::milliseconds step_timeout_;
};

// "shard-0" .. "shard-(N-1)": the ConfigServer's names for a new cluster's
// shards, which the platform uses as server group names.
std::string ShardGroupName(int shard);

}  // namespace redkube::runtime
