#include "runtime/local/process_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/signals.h"

namespace redkube::runtime {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(10);
// A child that stayed up this long is healthy again: the next restart is quick.
constexpr auto kStableAfter = std::chrono::seconds(10);

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

struct ProcessSupervisor::Child {
  ProcessSpec spec;
  ProcessState state;
  bool stopping = false;
  bool done = false;  // the keeper thread has finished
  std::condition_variable cv;
  std::chrono::steady_clock::time_point started;
  std::thread keeper;
};

ProcessSupervisor::ProcessSupervisor(std::function<void()> on_change) : on_change_(std::move(on_change)) {}

ProcessSupervisor::~ProcessSupervisor() {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, child] : children_) names.push_back(name);
  }
  for (const auto& name : names) Stop(name);
}

Result<pid_t> ProcessSupervisor::Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return Status::Error("empty command line");
  // Everything the child touches is prepared before fork: between fork and
  // exec a child of a threaded process may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int max_fd = static_cast<int>(sysconf(_SC_OPEN_MAX));
  int exec_error[2];
  if (pipe2(exec_error, O_CLOEXEC) != 0) return Status::Error(std::string("pipe: ") + strerror(errno));

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(exec_error[0]);
    close(exec_error[1]);
    return Status::Error(std::string("fork: ") + strerror(e));
  }
  if (pid == 0) {
    setpgid(0, 0);
    RestoreDefaultSignals();
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0) {
      int e = errno;
      (void)!write(exec_error[1], &e, sizeof(e));
      _exit(127);
    }
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    // Only 0-2 and the exec-error pipe (moved to 3, closed by exec) survive:
    // no socket or lock file of the supervisor leaks into the child.
    if (exec_error[1] != 3) dup3(exec_error[1], 3, O_CLOEXEC);
    if (close_range(4, ~0U, 0) != 0) {  // kernels before 5.9
      for (int fd = 4; fd < max_fd; ++fd) close(fd);
    }
    execvp(args[0], args.data());
    int e = errno;
    (void)!write(3, &e, sizeof(e));
    _exit(127);
  }
  close(exec_error[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_error[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_error[0]);
  if (n > 0) {
    waitpid(pid, nullptr, 0);
    return Status::Error("cannot run " + argv[0] + ": " + strerror(child_errno));
  }
  return pid;
}

Status ProcessSupervisor::Start(ProcessSpec spec) {
  Child* child;
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return Status::Error("shutting down; not starting " + spec.name);
    if (children_.count(spec.name)) return Status::Error(spec.name + " is already running");
    auto pid = Spawn(spec.argv, spec.log_path);
    if (!pid.ok()) return pid.status();
    auto owned = std::make_unique<Child>();
    child = owned.get();
    child->spec = std::move(spec);
    child->state.name = child->spec.name;
    child->state.pid = pid.value();
    child->state.running = true;
    child->started = std::chrono::steady_clock::now();
    children_[child->spec.name] = std::move(owned);
    child->keeper = std::thread([this, child] { Keep(child); });
  }
  Changed();
  return Status::Ok();
}

void ProcessSupervisor::Keep(Child* child) {
  auto backoff = kFirstBackoff;
  // after_restart runs beside the wait for the child's exit, so a child that
  // dies again while the hook still works is noticed and restarted.
  std::thread hook;
  auto join_hook = [&hook] {
    if (hook.joinable()) hook.join();
  };
  for (;;) {
    pid_t pid;
    {
      std::lock_guard lock(mu_);
      pid = child->state.pid;
    }
    if (pid > 0) {
      // Wait without reaping: until the state says "not running", the pid
      // stays ours (a zombie at worst), so Stop() can never signal a reused pid.
      siginfo_t info;
      while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
      }
      int status = 0;
      {
        std::lock_guard lock(mu_);
        waitpid(pid, &status, 0);
        child->state.pid = 0;
        child->state.running = false;
        child->state.last_exit = DescribeExit(status);
      }
      Changed();
      if (std::chrono::steady_clock::now() - child->started > kStableAfter) backoff = kFirstBackoff;
    }
    {
      std::unique_lock lock(mu_);
      // Once shutdown began nothing starts again: a master killed just
      // before must not come back as a master while the rest stops.
      if (child->stopping || !accepting_) break;
      spdlog::warn("{} stopped ({}); starting it again in {} ms", child->spec.name, child->state.last_exit,
                   backoff.count());
      if (child->cv.wait_for(lock, backoff, [this, child] { return child->stopping || !accepting_; })) break;
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    join_hook();
    std::vector<std::string> argv =
        child->spec.before_restart ? child->spec.before_restart() : child->spec.argv;
    bool started = false;
    {
      std::lock_guard lock(mu_);
      if (child->stopping || !accepting_) break;
      ++child->state.restarts;
      auto spawned = Spawn(argv, child->spec.log_path);
      if (spawned.ok()) {
        child->state.pid = spawned.value();
        child->state.running = true;
        child->started = std::chrono::steady_clock::now();
        started = true;
      } else {
        child->state.last_exit = spawned.error();
        spdlog::error("{}: {}", child->spec.name, spawned.error());
      }
    }
    Changed();
    if (started && child->spec.after_restart) hook = std::thread(child->spec.after_restart);
  }
  {
    std::lock_guard lock(mu_);
    child->done = true;
    child->cv.notify_all();
  }
  join_hook();
}

bool ProcessSupervisor::Has(const std::string& name) const {
  std::lock_guard lock(mu_);
  return children_.count(name) > 0;
}

void ProcessSupervisor::Stop(const std::string& name, std::chrono::milliseconds grace) {
  std::unique_lock lock(mu_);
  auto it = children_.find(name);
  if (it == children_.end()) return;
  Child* child = it->second.get();
  if (child->stopping) {  // another caller is stopping it: wait for that
    erased_.wait(lock, [&] {
      auto now = children_.find(name);
      return now == children_.end() || now->second.get() != child;
    });
    return;
  }
  child->stopping = true;
  if (child->state.running) kill(child->state.pid, SIGTERM);
  child->cv.notify_all();
  if (!child->cv.wait_for(lock, grace, [child] { return child->done; })) {
    spdlog::warn("{} did not stop within {} ms; killing it", name, grace.count());
    // The whole process group (its own, see Spawn): forked helpers too.
    if (child->state.running) kill(-child->state.pid, SIGKILL);
    child->cv.wait(lock, [child] { return child->done; });
  }
  std::thread keeper = std::move(child->keeper);
  std::unique_ptr<Child> owned = std::move(it->second);
  children_.erase(it);
  erased_.notify_all();
  lock.unlock();
  keeper.join();
  Changed();
}

void ProcessSupervisor::StopAll(const std::vector<std::string>& names, std::chrono::milliseconds grace) {
  std::vector<std::thread> stoppers;
  for (const auto& name : names) stoppers.emplace_back([this, name, grace] { Stop(name, grace); });
  for (auto& t : stoppers) t.join();
}

void ProcessSupervisor::StopAccepting() {
  std::lock_guard lock(mu_);
  accepting_ = false;
  for (auto& [name, child] : children_) child->cv.notify_all();  // end backoff waits
}

std::vector<ProcessState> ProcessSupervisor::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<ProcessState> out;
  for (const auto& [name, child] : children_) out.push_back(child->state);
  return out;
}

void ProcessSupervisor::Changed() {
  if (on_change_) on_change_();
}

}  // namespace redkube::runtime
