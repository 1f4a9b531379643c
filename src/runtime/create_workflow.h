// The creation workflow of ARCHITECTURE.md ("Create"), written once against
// the Platform interface: control plane -> the cluster record -> every
// shard's servers -> wait until all answer -> register them with the
// ConfigServer (which sets up replication) -> wait for replicas in sync ->
// proxies -> ready. Running it on a cluster that exists brings that cluster
// back: the ConfigServer keeps each shard's recorded master, the servers
// keep their data.
//
// Resumable: Step() observes what exists, does the next thing that is
// missing and answers at once — done, waiting (for servers to answer, for
// replicas to sync: call again later) or failed — so the operator steps it
// on each reconcile and requeues while it waits; Run() loops over Step()
// for `redkube up`. Every action is an "ensure" and a registration is made
// only when the record differs from the members, so stepping a created
// cluster again changes nothing. Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/status.h"
#include "runtime/configserver_api.h"
#include "runtime/platform.h"
#include "runtime/shard_name.h"

namespace redkube::runtime {

struct ClusterShape {
  std::string name;
  int shards = 3;
  int replicas = 1;  // per shard
  int proxies = 2;
  std::string server_version = {};  // empty: the platform's default
  // The cluster was built before (the operator knows from its status): a
  // missing record is then lost state, never a reason to create a new one.
  // A new record would make each shard's first member its master and resync
  // the real masters from them, losing their data.
  bool record_must_exist = false;
};

// The workflow's phases, in order; StepResult::phase is one of them.
inline constexpr const char* kPhaseControlPlane = "control-plane";  // etcd, ConfigServers
inline constexpr const char* kPhaseClusterRecord = "cluster-record";
inline constexpr const char* kPhaseServers = "servers";             // every shard's server group
inline constexpr const char* kPhaseServersReady = "servers-ready";  // every member answers
inline constexpr const char* kPhaseRegister = "register";
inline constexpr const char* kPhaseReplication = "replication";  // every replica in sync
inline constexpr const char* kPhaseProxies = "proxies";
inline constexpr const char* kPhaseProxiesReady = "proxies-ready";
inline constexpr const char* kPhaseReady = "ready";

// What one Step() came to.
struct StepResult {
  enum class State { kDone, kWaiting, kFailed };
  State state = State::kWaiting;
  std::string phase = {};    // where it stopped (kPhaseReady when done)
  std::string message = {};  // waiting: what for; failed: why (empty when done)

  bool done() const { return state == State::kDone; }
  bool waiting() const { return state == State::kWaiting; }
  bool failed() const { return state == State::kFailed; }
};

// Hears each step as it starts ("start every shard's servers (3 x 2)"), and
// notes worth a line (a group an interrupted scale left).
using ProgressReporter = std::function<void(const std::string& step)>;

class CreateWorkflow {
 public:
  // Makes the client of the ConfigServer at `plane` (tests: a fake).
  using ConfigServerFactory = runtime::ConfigServerFactory;

  // `step_timeout`: how long Run() lets one phase wait. `configserver`
  // empty: a ConfigServerClient.
  CreateWorkflow(Platform* platform, ClusterShape shape, ProgressReporter progress,
                 std::chrono::milliseconds step_timeout = std::chrono::seconds(60),
                 ConfigServerFactory configserver = {});
  ~CreateWorkflow();

  // Observes, does the next missing thing (each Platform call is an
  // "ensure"), and answers without waiting for anything but the calls it
  // makes. Failed: a platform call or the ConfigServer said no (the same
  // Step() later may succeed: the operator retries with backoff). Waiting:
  // members or proxies not ready, replicas not in sync, no ConfigServer
  // answering. Idempotent.
  StepResult Step();

  // Step() every `poll` until done; fails at the first failed step, or when
  // one phase waited longer than the step timeout (saying what for).
  // Returns the control plane the cluster runs with.
  Result<ControlPlane> Run(std::chrono::milliseconds poll = std::chrono::milliseconds(100));

  // The control plane, once a Step() got that far.
  const std::optional<ControlPlane>& control_plane() const { return control_plane_; }

 private:
  void Enter(int phase);
  void NoteOnce(const std::string& note);

  Platform* platform_;
  ClusterShape shape_;
  ProgressReporter progress_;
  std::chrono::milliseconds step_timeout_;
  ConfigServerFactory factory_;
  std::optional<ControlPlane> control_plane_;
  std::unique_ptr<ConfigServerApi> configserver_;
  int entered_ = -1;  // the furthest phase reported to progress_
  std::set<std::string> noted_;
};

}  // namespace redkube::runtime
