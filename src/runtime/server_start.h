// The server start step, shared by the local runtime (a restarted member)
// and Kubernetes (the `redkube-server-start` init container): how a
// redis-server of a shard starts, decided from the shard's record, and the
// redis.conf it starts from.
//
// Why it matters: a master that died and comes back from its own AOF (fsync
// every second) may lack writes its replicas have and clients were told
// were done; it must not take writes again before the ConfigServer has
// failed the shard over, and then it starts as a replica of the new master.
// A member with a new address (a pod recreated) starts as a replica of the
// recorded master and is registered again by the operator.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/topology.h"
#include "runtime/cluster_view.h"
#include "runtime/configserver_api.h"

namespace redkube::runtime {

struct ServerStartInput {
  // The shard's record; nothing when the ConfigServer has no such cluster
  // or shard, or none answered.
  std::optional<ShardView> shard = std::nullopt;
  std::optional<std::string> previous = std::nullopt;  // "host:port" it last ran at; nothing on a first start
  std::string current = {};                            // "host:port" it starts at now
  bool failover_wait_over = false;                     // the bounded wait for a failover has run out
};

struct ServerStartDecision {
  enum class Role { kMaster, kReplica, kWaitForFailover };
  Role role = Role::kMaster;
  std::optional<HostPort> master = std::nullopt;  // kReplica: whom to replicate from
  std::string reason = {};                        // one line for the log
  // No ConfigServer answered (the decision is from no record at all).
  bool unanswered = false;
};

// Pure. The rules, in order:
//  1. no shard record, or no master recorded: start as a master (a new
//     shard; the ConfigServer sets up replication when it is registered);
//  2. the recorded master is another address (not `previous`, not
//     `current`): start as its replica (a master that is not host:port:
//     as a master, saying so);
//  3. the recorded master is this member (at `previous` or `current`):
//     with no other node in the shard, or once the wait is over, start as a
//     master (as it was: no one else has the data); else wait for the
//     ConfigServer to fail the shard over, and ask again.
ServerStartDecision DecideServerStart(const ServerStartInput& input);

// Asks `configserver` for shard `shard` of `cluster` and decides; while the
// answer is "wait", asks again every `poll` until `failover_wait` has
// passed, then decides with the wait over. `stop` (may be null) cuts the
// wait short the same way (shutdown). Never fails: a ConfigServer that
// does not answer is asked again within the same wait, and then reads as no
// record (start as a master).
ServerStartDecision DecideWithConfigServer(ConfigServerApi& configserver, const std::string& cluster,
                                           const std::string& shard,
                                           const std::optional<std::string>& previous,
                                           const std::string& current,
                                           std::chrono::milliseconds failover_wait,
                                           const std::atomic<bool>* stop = nullptr,
                                           std::chrono::milliseconds poll = std::chrono::milliseconds(200));

// What a member's redis.conf says.
struct ServerConfig {
  std::string bind = {};  // the one address it listens on (never 0.0.0.0)
  int port = 6379;
  std::string dir = {};       // its data dir (AOF), the volume
  std::string password = {};  // requirepass and masterauth; empty: none
  std::string include = {};   // a redis.conf of the user's to include first; empty: none
  std::optional<HostPort> replica_of = std::nullopt;
};

// The redis.conf text: the user's include first (so what follows wins: its
// address, data dir, password and persistence are not the user's to
// change), then bind, port, dir, daemonize no, logfile "" (stdout),
// requirepass/masterauth, appendonly yes + appendfsync everysec + save ""
// (the AOF is what makes the data dir a volume), repl-diskless-sync-delay 0
// (a new replica syncs at once, not after Redis's 5 s), and replicaof when
// set. Pure. Values are quoted and escaped as Redis's config reader wants.
std::string RenderServerConfig(const ServerConfig& config);

// Writes `content` to `path` with mode 0600, atomically (a reader sees the
// old or the new file, never half of one).
Status WritePrivateFile(const std::string& path, const std::string& content);

// DIR/redkube-member.json: {"address": "host:port"}, where the member last
// ran (written by the start step itself before redis-server starts).
std::string MemberFilePath(const std::string& dir);
std::optional<std::string> ReadPreviousAddress(const std::string& dir);
Status WritePreviousAddress(const std::string& dir, const std::string& address);

}  // namespace redkube::runtime
