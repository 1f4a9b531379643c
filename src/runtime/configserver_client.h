// The workflows' client of the ConfigServer API (see src/configserver/
// api_server.h for the routes). Tries each ConfigServer URL in turn, so any
// instance, leader or not, serves a request. Blocking; one request at a time
// per object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/cluster_view.h"
#include "runtime/configserver_api.h"
#include "runtime/platform.h"

namespace redkube::runtime {

class ConfigServerClient : public ConfigServerApi {
 public:
  explicit ConfigServerClient(ControlPlane control_plane);

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };
  // Any HTTP answer is a Reply; an error only when no instance answered.
  Result<Reply> Call(const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr);

  // ConfigServerApi. FindCluster's record comes with "complete", "leader"
  // and per-node "health".
  Result<std::optional<ClusterView>> FindCluster(const std::string& name) override;
  Status CreateCluster(const std::string& name, int shards) override;
  Status RegisterShard(const std::string& cluster, const std::string& shard,
                       const std::vector<std::string>& nodes) override;
  // FindCluster, with "no cluster named NAME" an error too.
  Result<ClusterView> GetCluster(const std::string& name);

  // The migration API of docs/migration.md. Each fails with the
  // ConfigServer's own message on a non-2xx answer.
  //
  // Adds empty shard `id`; one that exists already is fine (a resumed scale).
  Status AddShard(const std::string& cluster, const std::string& id);
  // Deletes shard `id` (it must own no slots); one already gone is fine.
  Status DeleteShard(const std::string& cluster, const std::string& id);
  struct Throttle {
    int64_t keys_per_s = 0;  // 0: unlimited
    int64_t bytes_per_s = 0;
  };
  // Queues the moves that give `shards` an equal share of the slots (the
  // others drain to none); returns the ids of the migrations queued (none
  // when the slots are balanced already).
  Result<std::vector<std::string>> Rebalance(const std::string& cluster,
                                             const std::vector<std::string>& shards,
                                             const Throttle& throttle);
  // {"epoch": N, "migrations": [...], "proxies": [...]}, finished migrations
  // included.
  Result<nlohmann::json> ListMigrations(const std::string& cluster);
  // `action`: "pause", "resume" or "cancel".
  Status ControlMigration(const std::string& cluster, const std::string& id, const std::string& action);
  Status SetThrottle(const std::string& cluster, const std::string& id, const Throttle& throttle);

 private:
  ControlPlane control_plane_;
};

}  // namespace redkube::runtime
