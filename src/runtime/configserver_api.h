// The part of the ConfigServer API the workflows need: read a cluster's
// record, create it, register a shard's nodes (creation, a restarted
// member's rejoining), and add and delete shards, rebalance the slots and
// follow the migrations (scaling; docs/migration.md). An interface so the
// workflows can be tested against an in-memory one
// (tests/runtime/fake_configserver.h); ConfigServerClient is the real one.
// Implementations are used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/cluster_view.h"
#include "runtime/platform.h"

namespace redkube::runtime {

class ConfigServerApi {
 public:
  virtual ~ConfigServerApi() = default;

  // The record of cluster `name`; nothing when the ConfigServer has no such
  // cluster. An error only when no ConfigServer answered or the answer was
  // not a record: a caller that can wait, waits on it.
  virtual Result<std::optional<ClusterView>> FindCluster(const std::string& name) = 0;
  // FindCluster, with "no cluster named NAME" an error too.
  Result<ClusterView> GetCluster(const std::string& name) {
    auto found = FindCluster(name);
    if (!found.ok()) return found.status();
    if (!found.value()) return Status::Error("cluster " + name + ": no cluster named " + name);
    return std::move(*found.value());
  }
  // Creates cluster `name` with `shards` shards ("shard-0" ..); one created
  // meanwhile by another writer is fine.
  virtual Status CreateCluster(const std::string& name, int shards) = 0;
  // Registers the shard's nodes (the first is master of a new shard; a
  // recorded master is kept and must be among them).
  virtual Status RegisterShard(const std::string& cluster, const std::string& shard,
                               const std::vector<std::string>& nodes) = 0;

  // The migration API of docs/migration.md. Each fails with the
  // ConfigServer's own message when it says no.
  //
  // Adds empty shard `id`; one that exists already is fine (a resumed scale).
  virtual Status AddShard(const std::string& cluster, const std::string& id) = 0;
  // Deletes shard `id` (it must own no slots); one already gone is fine.
  virtual Status DeleteShard(const std::string& cluster, const std::string& id) = 0;
  struct Throttle {
    int64_t keys_per_s = 0;  // 0: unlimited
    int64_t bytes_per_s = 0;
  };
  // Queues the moves that give `shards` an equal share of the slots (the
  // others drain to none); returns the ids of the migrations queued (none
  // when the slots are balanced already).
  virtual Result<std::vector<std::string>> Rebalance(const std::string& cluster,
                                                     const std::vector<std::string>& shards,
                                                     const Throttle& throttle) = 0;
  // {"epoch": N, "migrations": [...], "proxies": [...]}, finished migrations
  // included (each as docs/migration.md lists one).
  virtual Result<nlohmann::json> ListMigrations(const std::string& cluster) = 0;
};

// Makes the client of the ConfigServer at `plane` (tests: a fake). What the
// workflows take; empty: a ConfigServerClient.
using ConfigServerFactory = std::function<std::unique_ptr<ConfigServerApi>(const ControlPlane& plane)>;

}  // namespace redkube::runtime
