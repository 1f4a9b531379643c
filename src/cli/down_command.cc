// `redkube down`: stops a cluster's supervisor (which stops every process in
// order) and, with --purge, deletes its data.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "cli/commands.h"
#include "runtime/local/cluster_directory.h"

namespace redkube::cli {
namespace {

using namespace redkube::runtime;
namespace fs = std::filesystem;

constexpr auto kStopTimeout = std::chrono::seconds(90);

bool WaitGone(const std::function<bool()>& gone) {
  const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (gone()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return gone();
}

}  // namespace

int RunDown(const DownOptions& o) {
  auto layout = ExistingCluster(o.dir, o.name);
  if (!layout.ok()) {
    fmt::print(stderr, "redkube down: {}\n", layout.error());
    return 1;
  }
  if (auto pid = RunningSupervisor(layout.value())) {
    fmt::print("stopping cluster {} (supervisor pid {})\n", o.name, *pid);
    kill(*pid, SIGTERM);
    if (!WaitGone([&] { return !RunningSupervisor(layout.value()); })) {
      fmt::print(stderr, "redkube down: cluster {} did not stop within {} s; see {}\n", o.name,
                 kStopTimeout.count(), layout->LogDir());
      return 1;
    }
    fmt::print("stopped cluster {}\n", o.name);
  } else {
    auto leftovers = OrphanedProcesses(layout.value());
    if (leftovers.empty()) {
      fmt::print("cluster {} is not running\n", o.name);
    } else {
      fmt::print("cluster {} has no supervisor; stopping the {} processes it left\n", o.name,
                 leftovers.size());
      for (pid_t pid : leftovers) kill(pid, SIGTERM);
      if (!WaitGone([&] { return OrphanedProcesses(layout.value()).empty(); })) {
        for (pid_t pid : OrphanedProcesses(layout.value())) kill(pid, SIGKILL);
        if (!WaitGone([&] { return OrphanedProcesses(layout.value()).empty(); })) {
          fmt::print(stderr, "redkube down: processes of cluster {} are still running; data kept\n", o.name);
          return 1;
        }
      }
    }
  }
  if (o.purge) {
    std::error_code ec;
    fs::remove_all(layout->ClusterDir(), ec);
    if (ec) {
      fmt::print(stderr, "redkube down: cannot delete {}: {}\n", layout->ClusterDir(), ec.message());
      return 1;
    }
    fmt::print("deleted {}\n", layout->ClusterDir());
  }
  return 0;
}

}  // namespace redkube::cli
