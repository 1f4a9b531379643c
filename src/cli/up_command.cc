// `redkube up`: checks, then runs the creation workflow on the local
// platform and supervises the cluster until Ctrl-C / SIGTERM (or, with
// --detach, in a background process once the cluster is ready).
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "core/signals.h"
#include "runtime/create_workflow.h"
#include "runtime/local/cluster_directory.h"
#include "runtime/local/local_platform.h"
#include "runtime/local/platform_control_server.h"
#include "runtime/shard_rejoin.h"

namespace redkube::cli {
namespace {

using namespace redkube::runtime;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A --detach parent prints what its child reports on a pipe; this byte,
// last, means "ready".
constexpr char kReadyByte = '\0';

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Says what happens, on stdout and (for a --detach child) on the pipe to the
// waiting parent.
class Reporter {
 public:
  explicit Reporter(int pipe_fd) : pipe_fd_(pipe_fd), start_(Clock::now()) {}
  void Say(const std::string& text) {
    WriteAll(1, text);
    if (pipe_fd_ >= 0) WriteAll(pipe_fd_, text);
  }
  void Step(const std::string& step) {
    double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    Say(fmt::format("==> [{:5.1f}s] {}\n", seconds, step));
  }
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  // Tells the parent the cluster is ready and lets it go.
  void Release() {
    if (pipe_fd_ < 0) return;
    WriteAll(pipe_fd_, std::string(1, kReadyByte));
    close(pipe_fd_);
    pipe_fd_ = -1;
  }

 private:
  int pipe_fd_;
  Clock::time_point start_;
};

// The parent side of --detach: relays the child's report; exits 0 once the
// child says it is ready, 1 if it ended without saying so. Ctrl-C while it
// waits reaches the child, which stops what it started.
[[noreturn]] void RelayUntilReady(pid_t child, int read_fd) {
  ForwardSignals(child, {SIGINT, SIGTERM, SIGHUP});
  char buf[4096];
  bool ready = false;
  for (;;) {
    ssize_t n = read(read_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ready = buf[n - 1] == kReadyByte;
    WriteAll(1, std::string(buf, ready ? n - 1 : n));
  }
  _exit(ready ? 0 : 1);
}

Status CheckSavedShape(const UpOptions& o, const LocalClusterSpec& saved) {
  auto differs = [&](bool given, int asked, int have, const char* flag) -> Status {
    if (!given || asked == have) return Status::Ok();
    return Status::Error(
        fmt::format("cluster {} exists with {} {} (you asked for {}); up brings it back as it was: drop {} "
                    "or use another "
                    "--name (`redkube down --name {} --purge` deletes it)",
                    saved.name, flag, have, asked, flag, saved.name));
  };
  if (o.shards_given && o.spec.shards != saved.shards) {
    return Status::Error(fmt::format(
        "cluster {} exists with {} shards (you asked for {}); up brings it back as it was. To change its "
        "size, bring it up and run `redkube scale{} --shards {}` (it moves the slots online)",
        saved.name, saved.shards, o.spec.shards, saved.name == "demo" ? "" : " --name " + saved.name,
        o.spec.shards));
  }
  for (const Status& s : {differs(o.replicas_given, o.spec.replicas, saved.replicas, "--replicas"),
                          differs(o.proxies_given, o.spec.proxies, saved.proxies, "--proxies"),
                          differs(o.port_given, o.spec.port, saved.port, "--port")}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

int Fail(const std::string& message) {
  fmt::print(stderr, "redkube up: {}\n", message);
  return 1;
}

// A cluster checked and ready to start: its directories, secrets and saved
// spec exist, and this process holds its supervisor lock.
struct PreparedCluster {
  LocalClusterSpec spec;
  LocalLayout layout;
  SupervisorLock lock;
  std::string password;
  std::string token;
  std::string binary_dir;  // where redkube-proxy and redkube-configserver are
};

// Checks that nothing is in the way of starting: the saved shape, another
// supervisor, orphans, ports, the binaries. A first `up` that fails its
// checks leaves nothing behind; the error is the message to print.
Result<PreparedCluster> Prepare(const UpOptions& o) {
  auto saved = LoadClusterSpec(o.dir, o.spec.name);
  if (!saved.ok()) return saved.status();
  LocalClusterSpec spec = o.spec;
  if (saved.value()) {
    if (Status s = CheckSavedShape(o, *saved.value()); !s.ok()) return s;
    spec = *saved.value();
  }
  auto layout = LocalLayout::Make(spec, o.dir);
  if (!layout.ok()) return layout.status();
  const bool fresh = !saved.value().has_value();
  auto fail_fresh = [&](const std::string& message) {
    std::error_code ignored;
    if (fresh) fs::remove_all(layout->ClusterDir(), ignored);
    return Status::Error(message);
  };
  if (Status s = MakeClusterDirs(layout.value()); !s.ok()) return fail_fresh(s.message());
  auto lock = SupervisorLock::Acquire(layout.value());
  if (!lock.ok()) {
    return Status::Error(lock.error() + "; nothing changed. `redkube status --name " + spec.name +
                         "` shows it, `redkube down --name " + spec.name + "` stops it");
  }
  // Written at once so `down` never finds the lock held with a stale pid;
  // a --detach child writes its own.
  if (Status s = lock->WritePid(layout.value()); !s.ok()) return fail_fresh(s.message());
  if (auto orphans = OrphanedProcesses(layout.value()); !orphans.empty()) {
    return Status::Error(
        fmt::format("{} processes of cluster {} still run without their supervisor (was it killed?); "
                    "nothing started. `redkube down --name {}` stops them",
                    orphans.size(), spec.name, spec.name));
  }
  if (auto port = PortInUse(layout.value())) {
    return fail_fresh(
        fmt::format("port {} on 127.0.0.1 is already in use by another program; nothing started. "
                    "Stop it, or choose other ports with --port (cluster {} needs {}..{})",
                    *port, spec.name, spec.port, spec.port + 100 + 10 * spec.shards - 1));
  }
  auto password = EnsureSecretFile(layout->PasswordFile());
  if (!password.ok()) return fail_fresh(password.error());
  auto token = EnsureSecretFile(layout->TokenFile());
  if (!token.ok()) return fail_fresh(token.error());
  if (Status s = SaveClusterSpec(layout.value()); !s.ok()) return fail_fresh(s.message());
  std::error_code ec;
  std::string binary_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const char* binary : {"redkube-proxy", "redkube-configserver"}) {
    if (!fs::exists(binary_dir + "/" + binary)) {
      return Status::Error(binary_dir + "/" + binary + " is missing; build it first");
    }
  }
  return PreparedCluster{std::move(spec),          std::move(layout.value()),
                         std::move(lock.value()),  std::move(password.value()),
                         std::move(token.value()), std::move(binary_dir)};
}

// --detach: forks; the parent relays the child's report until it is ready
// and exits (never returns). The child, in a session of its own with its
// output in the supervisor log, returns the pipe to report on (an error
// after the fork is on that pipe already, for the parent to print).
Result<int> Detach(const PreparedCluster& c) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::Error(std::string("pipe: ") + strerror(errno));
  fflush(nullptr);
  pid_t child = fork();
  if (child < 0) return Status::Error(std::string("fork: ") + strerror(errno));
  if (child > 0) {
    close(pipe_fds[1]);
    RelayUntilReady(child, pipe_fds[0]);
  }
  close(pipe_fds[0]);
  setsid();  // no terminal: closing it does not stop the cluster
  int log = open(c.layout.LogFile("supervisor").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log >= 0 && null >= 0) {
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
  }
  if (Status s = c.lock.WritePid(c.layout); !s.ok()) {
    WriteAll(pipe_fds[1], "redkube up: " + s.message() + "\n");
    return s;
  }
  return pipe_fds[1];
}

// Runs the creation workflow on a thread while this one takes the stop
// signals: one arriving meanwhile stops everything and exits at once (the
// workflow may be waiting on a process; nothing else is in flight).
Result<ControlPlane> CreateOrExitOnSignal(LocalPlatform* platform, const PreparedCluster& c,
                                          const SignalWaiter& stop_signals, Reporter* reporter) {
  ClusterShape shape{
      .name = c.spec.name, .shards = c.spec.shards, .replicas = c.spec.replicas, .proxies = c.spec.proxies};
  Result<ControlPlane> created = Status::Error("not run");
  std::atomic<bool> workflow_done{false};
  std::thread workflow([&] {
    created = CreateWorkflow(platform, shape, [&](const std::string& step) { reporter->Step(step); }).Run();
    workflow_done = true;
  });
  while (!workflow_done) {
    int sig = stop_signals.WaitFor(std::chrono::milliseconds(100));
    if (sig > 0) {
      reporter->Say(fmt::format("\n{} received while starting; stopping (data kept in {})\n", strsignal(sig),
                                c.layout.ClusterDir()));
      platform->StopAll();
      std::_Exit(128 + sig);
    }
  }
  workflow.join();
  return created;
}

void SayReady(Reporter* reporter, const UpOptions& o, const PreparedCluster& c) {
  const LocalClusterSpec& spec = c.spec;
  const std::string cli = c.binary_dir + "/redkube";
  const std::string dir_flag = o.dir == ".redkube" ? "" : " --dir " + o.dir;
  const std::string name_flag = spec.name == "demo" ? "" : " --name " + spec.name;
  reporter->Step("ready");
  reporter->Say(fmt::format(
      "\nredkube is ready in {:.1f}s: {} shards x {} servers, {} ConfigServers, {} proxies on "
      "127.0.0.1:{}{}\n"
      "  connect:  redis-cli -p {} -a $(cat {}) --no-auth-warning\n"
      "  status:   {} status{}{}\n"
      "  stop:     {}{} down{}{}   (data stays in {}; add --purge to delete it)\n"
      "  logs:     {}/\n",
      reporter->Elapsed(), spec.shards, spec.replicas + 1, LocalLayout::kConfigServers, spec.proxies,
      spec.port, spec.proxies > 1 ? fmt::format("-{}", spec.port + spec.proxies - 1) : "", spec.port,
      c.layout.PasswordFile(), cli, name_flag, dir_flag, o.detach ? "" : "Ctrl-C, or ", cli, name_flag,
      dir_flag, c.layout.ClusterDir(), c.layout.LogDir()));
}

}  // namespace

int RunUp(const UpOptions& o) {
  auto prepared = Prepare(o);
  if (!prepared.ok()) return Fail(prepared.error());
  const PreparedCluster& c = prepared.value();
  int report_fd = -1;
  if (o.detach) {
    auto fd = Detach(c);
    if (!fd.ok()) return Fail(fd.error());
    report_fd = fd.value();
  }

  // Signals are taken on this thread only; every thread started from here
  // on inherits the mask, and children get it cleared.
  const SignalWaiter stop_signals({SIGINT, SIGTERM, SIGHUP});

  Reporter reporter(report_fd);
  reporter.Say(fmt::format("redkube up: cluster {} ({} shards x {} servers, {} proxies) in {}\n", c.spec.name,
                           c.spec.shards, c.spec.replicas + 1, c.spec.proxies, c.layout.ClusterDir()));
  LocalPlatform platform(c.layout, c.password, c.token, c.binary_dir);
  auto created = CreateOrExitOnSignal(&platform, c, stop_signals, &reporter);
  if (!created.ok()) {
    reporter.Say("redkube up failed: " + created.error() + "\nstopping what was started; logs in " +
                 c.layout.LogDir() + "\n");
    platform.StopAll();
    return 1;
  }

  ShardRejoin rejoin(&platform, created.value(), c.spec.name);
  platform.SetServerRestartObserver(&rejoin);
  // `redkube scale` asks this process, which owns the servers, to start and
  // remove server groups; the new groups restart through `rejoin` too.
  PlatformControlServer control(&platform, c.layout.ControlSocket());
  if (Status s = control.Start(); !s.ok()) {
    reporter.Say("warning: " + s.message() + "; `redkube scale` cannot reach this cluster\n");
  }
  SayReady(&reporter, o, c);
  reporter.Release();

  int sig = stop_signals.Wait();
  fmt::print("\n{} received: stopping cluster {} (data kept in {})\n", strsignal(sig), c.spec.name,
             c.layout.ClusterDir());
  fflush(stdout);
  control.Stop();
  rejoin.Stop();
  platform.StopAll();
  platform.SetServerRestartObserver(nullptr);
  std::error_code ec;
  std::filesystem::remove(c.layout.SupervisorPidFile(), ec);
  fmt::print("stopped\n");
  return 0;
}

}  // namespace redkube::cli
