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
  // and per-node "health"; the migration calls fail with the ConfigServer's
  // own message on a non-2xx answer.
  Result<std::optional<ClusterView>> FindCluster(const std::string& name) override;
  Status CreateCluster(const std::string& name, int shards) override;
  Status RegisterShard(const std::string& cluster, const std::string& shard,
                       const std::vector<std::string>& nodes) override;
  Status AddShard(const std::string& cluster, const std::string& id) override;
  Status DeleteShard(const std::string& cluster, const std::string& id) override;
  Result<std::vector<std::string>> Rebalance(const std::string& cluster,
                                             const std::vector<std::string>& shards,
                                             const Throttle& throttle) override;
  Result<nlohmann::json> ListMigrations(const std::string& cluster) override;

  // The rest of the migration API (docs/migration.md), for `redkube
  // migrations`.
  //
  // `action`: "pause", "resume" or "cancel".
  Status ControlMigration(const std::string& cluster, const std::string& id, const std::string& action);
  Status SetThrottle(const std::string& cluster, const std::string& id, const Throttle& throttle);

 private:
  ControlPlane control_plane_;
};

}  // namespace redkube::runtime
