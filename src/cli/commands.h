// The `redkube` subcommands. Each returns the process exit code.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/local/local_layout.h"
#include "runtime/platform.h"

namespace redkube::cli {

struct UpOptions {
  runtime::LocalClusterSpec spec;  // name, shards, replicas, proxies, port
  std::string dir = ".redkube";
  bool detach = false;
  // Which shape flags the user gave: only those must match a saved cluster.
  bool shards_given = false, replicas_given = false, proxies_given = false, port_given = false;
};
int RunUp(const UpOptions& options);

struct StatusOptions {
  std::string name = "demo";
  std::string dir = ".redkube";
  bool json = false;
};
int RunStatus(const StatusOptions& options);

struct DownOptions {
  std::string name = "demo";
  std::string dir = ".redkube";
  bool purge = false;
};
int RunDown(const DownOptions& options);

struct ScaleOptions {
  std::string name = "demo";
  std::string dir = ".redkube";
  int shards = 0;
  int64_t throttle_keys = 0;  // keys/s, 0: unlimited
  int64_t throttle_bytes = 0;
};
int RunScale(const ScaleOptions& options);

struct MigrationsOptions {
  std::string name = "demo";
  std::string dir = ".redkube";
  std::string action = "list";  // list, pause, resume, cancel
  std::string id = "all";       // a migration id, or all (the active ones)
  bool json = false;
};
int RunMigrations(const MigrationsOptions& options);
// Prints migrations (as the ConfigServer lists them) as a table.
void PrintMigrationTable(const nlohmann::json& migrations);

// The layout of an existing cluster, or a message saying there is none.
redkube::Result<runtime::LocalLayout> ExistingCluster(const std::string& dir, const std::string& name);
// The layout of an existing cluster whose supervisor runs, or a message
// saying how to start it.
redkube::Result<runtime::LocalLayout> RunningCluster(const std::string& dir, const std::string& name);
// Where the cluster's ConfigServers answer, and its API token.
runtime::ControlPlane LocalControlPlane(const runtime::LocalLayout& layout);
// " --name NAME --dir DIR", leaving out defaults: for commands to suggest.
std::string ClusterFlags(const std::string& dir, const std::string& name);

}  // namespace redkube::cli
