// The ConfigServer's record of one cluster, as stored in etcd under
// /redkube/clusters/<name>: every shard's slots, its registered nodes, which
// one is master, which are down, and a switchover in progress. The topology
// proxies see (ARCHITECTURE.md) is derived from it by PublishedTopology().
// Plain values and pure functions: no I/O, so unit tests check them directly.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::configserver {

struct ShardRecord {
  std::string id;
  std::vector<SlotRange> slots;
  std::string master;              // "host:port"; empty until nodes are registered
  std::vector<std::string> nodes;  // every registered node, master included
  std::vector<std::string> down;   // nodes out of the read set (failed, or stale old masters)
  // A planned switchover holds the shard while FAILOVER runs, so the prober
  // does not "repair" the replica being promoted. Ends at the deadline at the
  // latest (milliseconds since the epoch).
  std::string switching_to;
  int64_t switching_until_ms = 0;
  // A failover under way (docs/configserver.md, "Fence before promote"):
  // published as fenced, so proxies send the master nothing, since epoch
  // `fence_epoch`; the leader promotes once every live proxy has applied
  // it. Cleared by the write that records the new master, or when the
  // master is back before that.
  bool fenced = false;
  uint64_t fence_epoch = 0;

  bool IsDown(const std::string& node) const;
  bool HasNode(const std::string& node) const;
  // Out of / back into the read set (only registered nodes go out).
  void MarkDown(const std::string& node);
  void MarkUp(const std::string& node);
  void RemoveNode(const std::string& node);
};

// A migration moves `slots` from shard `from` to shard `to` in steps
// (docs/migration.md): `step` is announced to proxies (published as
// migrating) and being moved now, `done` already belongs to `to`. The mover
// starts moving a step only once every live proxy has applied
// `step_epoch`, the epoch that announced it; likewise for `held_keys` (big
// keys being moved in chunks, which proxies must not touch) and
// `held_epoch`.
enum class MigrationState { kQueued, kRunning, kPaused, kCancelling, kDone, kCancelled, kFailed };
const char* MigrationStateName(MigrationState state);
std::optional<MigrationState> ParseMigrationState(std::string_view name);

struct Throttle {
  int64_t keys_per_s = 0;  // 0: unlimited
  int64_t bytes_per_s = 0;
  bool operator==(const Throttle&) const = default;
};

struct MigrationRecord {
  std::string id;  // "m-<n>", unique within the cluster
  std::string from;
  std::string to;
  std::vector<SlotRange> slots;  // every slot of the migration, fixed at creation
  std::vector<SlotRange> done;   // flipped to `to`
  std::vector<SlotRange> step;   // announced and moving now; empty between steps
  uint64_t step_epoch = 0;
  std::vector<std::string> held_keys;  // raw key bytes (hex in JSON)
  uint64_t held_epoch = 0;
  MigrationState state = MigrationState::kQueued;
  Throttle throttle;
  int64_t keys_moved = 0;
  int64_t bytes_moved = 0;
  // What the surveys of the steps announced so far found: keys per slot,
  // for the ETA.
  int64_t surveyed_slots = 0;
  int64_t surveyed_keys = 0;
  double keys_per_s = 0;  // the mover's recent rate
  double bytes_per_s = 0;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::vector<std::string> waiting_for;  // proxies that have not confirmed step_epoch/held_epoch
  std::string message;                   // what the mover waits for, or why it failed

  bool Finished() const {
    return state == MigrationState::kDone || state == MigrationState::kCancelled ||
           state == MigrationState::kFailed;
  }
};

struct ClusterRecord {
  std::string name;
  uint64_t epoch = 1;
  std::vector<ShardRecord> shards;
  std::vector<MigrationRecord> migrations;  // unfinished ones, then the last finished ones
  uint64_t migrations_created = 0;          // numbers migration ids
  // What CONFIG SET through the proxy changed (POST .../config): parameter
  // (lower case) -> value, merged over the earlier ones, which the leader
  // gives every server it probes (the ones started later included).
  // `settings_version` moves with every change, so the prober knows which
  // servers have the current set. Not part of the published topology.
  std::map<std::string, std::string> server_settings;
  uint64_t settings_version = 0;

  ShardRecord* FindShard(const std::string& id);
  const ShardRecord* FindShard(const std::string& id) const;
  MigrationRecord* FindMigration(const std::string& id);
  const MigrationRecord* FindMigration(const std::string& id) const;
  // True when every shard that owns slots (or is in an unfinished migration)
  // has a master, i.e. proxies can route every slot. A shard added for a
  // scale-out has none until its nodes are registered, and is left out of
  // the published topology until then.
  bool Complete() const;
  // Drops the oldest finished migrations beyond `keep`.
  void TrimFinishedMigrations(size_t keep);

  std::string ToJson() const;
  static Result<ClusterRecord> FromJson(std::string_view text);

 private:
  static Result<ClusterRecord> ParseRecord(std::string_view text);
};

// A migration as the API lists it: the record's fields plus slots_total,
// slots_done, slots_left, keys_estimated (from the steps' surveys) and an
// ETA (null while nothing moves).
nlohmann::json MigrationStatusJson(const MigrationRecord& m);

// Merges `settings` over record->server_settings; moves settings_version
// when a value changed. Returns whether one did.
bool MergeServerSettings(ClusterRecord* record, const std::map<std::string, std::string>& settings);

// A new cluster of `shard_count` shards named shard-0..shard-(N-1), slots
// split evenly as Redis Cluster's tools do (the first shards get the
// remainder), no nodes yet.
ClusterRecord NewCluster(const std::string& name, int shard_count);

// The document proxies route by (cluster, epoch, shards with master, replicas
// and slots, migrations: the steps being moved, with their held keys).
// Replicas are the registered nodes that are neither master nor down.
std::string PublishedTopology(const ClusterRecord& record);

// True when the two records publish different topologies (epoch aside): the
// store moves the epoch exactly then.
bool PublishedTopologyDiffers(const ClusterRecord& a, const ClusterRecord& b);

// The clock of switching_until_ms: milliseconds since the Unix epoch, so
// every ConfigServer instance reads a deadline the same way.
int64_t WallClockMs();

// Cluster and shard names: 1-63 of [a-z0-9-], as Kubernetes object names.
bool ValidName(const std::string& name);

}  // namespace redkube::configserver
