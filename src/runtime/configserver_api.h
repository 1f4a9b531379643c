// The part of the ConfigServer API that creation and a restarted member's
// rejoining need: read a cluster's record, create it, register a shard's
// nodes. An interface so the workflows can be tested against an in-memory
// record (tests/runtime/fake_configserver.h); ConfigServerClient is the real
// one. Implementations are used from one thread at a time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/cluster_view.h"

namespace redkube::runtime {

class ConfigServerApi {
 public:
  virtual ~ConfigServerApi() = default;

  // The record of cluster `name`; nothing when the ConfigServer has no such
  // cluster. An error only when no ConfigServer answered or the answer was
  // not a record: a caller that can wait, waits on it.
  virtual Result<std::optional<ClusterView>> FindCluster(const std::string& name) = 0;
  // Creates cluster `name` with `shards` shards ("shard-0" ..); one created
  // meanwhile by another writer is fine.
  virtual Status CreateCluster(const std::string& name, int shards) = 0;
  // Registers the shard's nodes (the first is master of a new shard; a
  // recorded master is kept and must be among them).
  virtual Status RegisterShard(const std::string& cluster, const std::string& shard,
                               const std::vector<std::string>& nodes) = 0;
};

}  // namespace redkube::runtime
