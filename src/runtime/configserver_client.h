// The workflows' client of the ConfigServer API (see src/configserver/
// api_server.h for the routes). Tries each ConfigServer URL in turn, so any
// instance, leader or not, serves a request. Blocking; one request at a time
// per object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/platform.h"

namespace redkube::runtime {

class ConfigServerClient {
 public:
  explicit ConfigServerClient(ControlPlane control_plane);

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };
  // Any HTTP answer is a Reply; an error only when no instance answered.
  Result<Reply> Call(const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr);

  // Creates cluster `name` with `shards` shards, or checks that the one
  // there has that many. Returns the record (see ClusterRecord::ToJson).
  Result<nlohmann::json> EnsureCluster(const std::string& name, int shards);
  // The record with "complete", "leader" and per-node "health".
  Result<nlohmann::json> GetCluster(const std::string& name);
  // Registers the shard's nodes (the first is master of a new shard).
  Status RegisterShard(const std::string& cluster, const std::string& shard,
                       const std::vector<std::string>& nodes);

 private:
  ControlPlane control_plane_;
};

}  // namespace redkube::runtime
