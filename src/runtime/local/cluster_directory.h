// The files that make a local cluster survive its processes: the saved
// shape (cluster.json), the password and API token (0600, generated on the
// first `up`, like a Secret), and the supervisor's lock and pid, which say
// whether the cluster is up. Every `redkube` command on a cluster goes
// through here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/local/local_layout.h"

namespace redkube::runtime {

// The saved shape of cluster `name` under `base_dir`, or nothing if it was
// never created there.
Result<std::optional<LocalClusterSpec>> LoadClusterSpec(const std::string& base_dir, const std::string& name);
Status SaveClusterSpec(const LocalLayout& layout);

// Creates the cluster's directories (data, logs, run).
Status MakeClusterDirs(const LocalLayout& layout);

// Reads the secret at `path`, or generates one (24 random letters and
// digits) and writes it with mode 0600.
Result<std::string> EnsureSecretFile(const std::string& path);

// Whether something already listens on 127.0.0.1:`port`.
bool PortTaken(int port);

// The port of `layout` that something already listens on, if any.
std::optional<int> PortInUse(const LocalLayout& layout);

// Held by the process that supervises a running cluster (an exclusive
// flock on run/supervisor.lock, inherited by a --detach child), so a second
// `up` sees the cluster running, and `down` sees when it has stopped.
class SupervisorLock {
 public:
  // Fails with "already running (pid N)" when another process holds it.
  static Result<SupervisorLock> Acquire(const LocalLayout& layout);
  SupervisorLock(SupervisorLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SupervisorLock& operator=(SupervisorLock&&) = delete;
  ~SupervisorLock();
  // Records the supervising process's pid (after a --detach fork).
  Status WritePid(const LocalLayout& layout) const;

 private:
  explicit SupervisorLock(int fd) : fd_(fd) {}
  int fd_;
};

// The pid of the process supervising the cluster, if one holds the lock.
std::optional<pid_t> RunningSupervisor(const LocalLayout& layout);

// When process `pid` started (clock ticks after boot, /proc/PID/stat), or 0
// if it does not exist: with the pid, it names one process for good.
uint64_t ProcessStartTime(pid_t pid);

// Processes a supervisor that died (kill -9) left running: the processes of
// its last run/processes.json that still run, the same process (pid and
// start time) running one of the programs the local runtime starts. Call
// only when no supervisor runs.
std::vector<pid_t> OrphanedProcesses(const LocalLayout& layout);

}  // namespace redkube::runtime
