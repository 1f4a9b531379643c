// The one naming of shards: the ConfigServer calls a new cluster's shards
// "shard-0" .. "shard-(N-1)" and a scale adds and removes them at the end;
// the platforms use the same id as the server group's name (the local
// runtime's data dirs, the operator's StatefulSet `NAME-shard-K`). Header
// only, so the ConfigServer names its shards with it too without linking
// the runtime.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/strings.h"

namespace redkube::runtime {

// "shard-K" for K >= 0.
inline std::string ShardGroupName(int shard) { return "shard-" + std::to_string(shard); }

// K for "shard-K" (K written as ShardGroupName writes it, at most 2^20), or
// nothing for any other id.
inline std::optional<int> ShardIndexOf(std::string_view id) {
  constexpr std::string_view kPrefix = "shard-";
  if (id.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto index = ParseInt64(id.substr(kPrefix.size()));
  if (!index || *index < 0 || *index > (1 << 20)) return std::nullopt;
  if (ShardGroupName(static_cast<int>(*index)) != id) return std::nullopt;  // "shard-01", "shard-+1"
  return static_cast<int>(*index);
}

}  // namespace redkube::runtime
