// The `redkube` subcommands. Each returns the process exit code.
#pragma once

#include <string>

#include "runtime/local/local_layout.h"

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

// The layout of an existing cluster, or a message saying there is none.
redkube::Result<runtime::LocalLayout> ExistingCluster(const std::string& dir, const std::string& name);

}  // namespace redkube::cli
