// Runs child processes and keeps them running, as a kubelet keeps a pod's
// containers: a child that exits is started again after a backoff (100 ms,
// doubling up to 10 s, back to 100 ms once it stayed up 10 s). Each child
// has its own keeper thread, so one slow restart never delays another.
// Children run in their own process group (a Ctrl-C in the terminal reaches
// only the supervisor, which stops them in order) with stdout and stderr
// appended to their log file. Thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace redkube::runtime {

struct ProcessSpec {
  std::string name;               // unique within the supervisor
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH
  std::string log_path;           // stdout and stderr are appended here
  // Before a restart (not the first start): the argv to start with this time
  // (for example with --replicaof added). May block. Unset: argv as is.
  std::function<std::vector<std::string>()> before_restart = {};
  // After a restart, on a thread of its own while the child runs (joined
  // before the next restart and at Stop). May block, bounded.
  std::function<void()> after_restart = {};
};

struct ProcessState {
  std::string name;
  pid_t pid = 0;  // 0 while not running
  bool running = false;
  int restarts = 0;
  std::string last_exit;  // "exit 1", "signal 9"; empty if it never exited
};

class ProcessSupervisor {
 public:
  // `on_change` runs (on any thread, without locks held) whenever a child
  // starts or exits.
  explicit ProcessSupervisor(std::function<void()> on_change = {});
  // Stops every child still running (SIGTERM, then SIGKILL after 10 s).
  ~ProcessSupervisor();
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;

  // Starts a child and keeps it running. Fails if the name is taken, the
  // program cannot be executed at all, or StopAccepting() was called.
  Status Start(ProcessSpec spec);
  bool Has(const std::string& name) const;
  // Sends SIGTERM, waits up to `grace` for the exit, then SIGKILL; no restart.
  void Stop(const std::string& name, std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Stops `names` at once (SIGTERM to all, then wait), as Stop() each.
  void StopAll(const std::vector<std::string>& names,
               std::chrono::milliseconds grace = std::chrono::seconds(10));
  // From now on Start() fails and no child is restarted: shutdown has begun.
  void StopAccepting();
  std::vector<ProcessState> Snapshot() const;

 private:
  struct Child;
  void Keep(Child* child);
  // Forks and execs; returns the pid, or an error if exec failed.
  Result<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path);
  void Changed();

  std::function<void()> on_change_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Child>> children_;
  bool accepting_ = true;
  std::condition_variable erased_;  // a child left children_
};

}  // namespace redkube::runtime
