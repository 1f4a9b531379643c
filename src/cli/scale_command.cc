// `redkube scale`: runs the scale workflow against a running local cluster,
// with the supervisor (through its control socket) as the platform, and
// shows the migrations' progress until they are done. Ctrl-C leaves them
// running in the ConfigServer: the same command again finishes the job.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "core/signals.h"
#include "runtime/configserver_client.h"
#include "runtime/local/remote_platform.h"
#include "runtime/scale_workflow.h"
#include "runtime/shard_steps.h"

namespace redkube::cli {
namespace {

using namespace redkube::runtime;
using Clock = std::chrono::steady_clock;

// Prints the steps as lines and the progress as one line redrawn in place
// on a terminal, or as a line a second otherwise (a log, a pipe).
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(1) != 0), start_(Clock::now()) {}

  void Step(const std::string& step) {
    std::lock_guard lock(mu_);
    EndLine();
    fmt::print("==> [{:5.1f}s] {}\n", Elapsed(), step);
    fflush(stdout);
  }
  void Progress(const MigrationProgress& p) {
    std::lock_guard lock(mu_);
    std::string text = ProgressText(p);
    if (tty_) {
      fmt::print("\r{}\033[K", text);
      open_line_ = true;
    } else if (Clock::now() - last_line_ >= std::chrono::seconds(1)) {
      fmt::print("{}\n", text);
      last_line_ = Clock::now();
    }
    fflush(stdout);
  }
  // Ends a redrawn line, so what follows starts on a line of its own.
  void EndLine() {
    if (open_line_) fmt::print("\n");
    open_line_ = false;
  }
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  std::mutex& mu() { return mu_; }

 private:
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_line_{};
  bool open_line_ = false;
  std::mutex mu_;
};

void SayInterrupted(const ScaleOptions& o) {
  const std::string flags = ClusterFlags(o.dir, o.name);
  fmt::print(
      "\ninterrupted: migrations already started keep running in the ConfigServer; every slot keeps one "
      "owner.\n"
      "  watch:     redkube status{0}        (or: redkube migrations list{0})\n"
      "  pause:     redkube migrations pause all{0}\n"
      "  resume:    redkube migrations resume all{0}\n"
      "  cancel:    redkube migrations cancel all{0}\n"
      "  finish:    redkube scale{0} --shards {1}   (the same command again goes on where this stopped)\n",
      flags, o.shards);
}

void SaySummary(const ScaleSummary& s, const ScaleOptions& o, int shards_from, double seconds) {
  fmt::print("\ncluster {} scaled from {} to {} shards in {:.1f}s", o.name, shards_from, o.shards, seconds);
  if (s.added.empty() && s.removed.empty() && s.migrations.empty()) {
    fmt::print(": nothing to do\n");
    return;
  }
  fmt::print("\n");
  auto list = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out;
  };
  if (!s.added.empty()) fmt::print("  added:      {}\n", list(s.added));
  if (!s.removed.empty()) fmt::print("  removed:    {} (servers stopped, data deleted)\n", list(s.removed));
  fmt::print("  migrations: {}; {} slots, {} keys ({}B) moved, {} keys/s\n", s.migrations.size(),
             s.moved.slots_done, s.moved.keys_moved, HumanCount(static_cast<double>(s.moved.bytes_moved)),
             HumanCount(seconds > 0 ? static_cast<double>(s.moved.keys_moved) / seconds : 0));
}

}  // namespace

int RunScale(const ScaleOptions& o) {
  auto layout = RunningCluster(o.dir, o.name);
  if (!layout.ok()) {
    fmt::print(stderr, "redkube scale: {}\n", layout.error());
    return 1;
  }
  if (auto fits = layout->WithShards(o.shards); !fits.ok()) {
    fmt::print(stderr, "redkube scale: {}\n", fits.error());
    return 1;
  }
  // Signals go to this thread only (the workflow's thread inherits the mask).
  const SignalWaiter stop_signals({SIGINT, SIGTERM, SIGHUP});
  ConfigServerClient configserver(LocalControlPlane(layout.value()));
  auto record = configserver.GetCluster(o.name);
  if (!record.ok()) {
    fmt::print(stderr, "redkube scale: the ConfigServer does not answer: {}\n", record.error());
    return 1;
  }
  const int shards_from = static_cast<int>(record->shards.size());

  RemotePlatform platform(layout->ControlSocket());
  ProgressPrinter printer;
  fmt::print("redkube scale: cluster {} from {} to {} shards\n", o.name, shards_from, o.shards);
  ScaleRequest request{.cluster = o.name,
                       .shards = o.shards,
                       .members = layout->spec().replicas + 1,
                       .throttle = {.keys_per_s = o.throttle_keys, .bytes_per_s = o.throttle_bytes}};
  Result<ScaleSummary> result = Status::Error("not run");
  std::atomic<bool> done{false};
  std::thread workflow([&] {
    result = ScaleWorkflow(
                 &platform, LocalControlPlane(layout.value()), request,
                 [&](const std::string& step) { printer.Step(step); },
                 [&](const MigrationProgress& p) { printer.Progress(p); })
                 .Run();
    done = true;
  });
  while (!done) {
    int sig = stop_signals.WaitFor(std::chrono::milliseconds(100));
    if (sig > 0) {
      // The workflow may be in the middle of a call; what it asked for
      // happens (or not) in the supervisor and the ConfigServer, and the
      // next run looks before it acts. Nothing here needs undoing.
      std::lock_guard lock(printer.mu());
      printer.EndLine();
      SayInterrupted(o);
      fflush(stdout);
      std::_Exit(128 + sig);
    }
  }
  workflow.join();
  printer.EndLine();
  if (!result.ok()) {
    fmt::print(stderr, "redkube scale failed: {}\n  logs: {}/\n", result.error(), layout->LogDir());
    return 1;
  }
  SaySummary(result.value(), o, shards_from, printer.Elapsed());
  return 0;
}

}  // namespace redkube::cli
