// The cluster topology document of ARCHITECTURE.md: which shard owns which
// slots, each shard's master and replicas, slot ranges in migration, and the
// epoch that orders versions. A Topology is immutable once parsed and is
// shared between threads as std::shared_ptr<const Topology>.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/slot.h"
#include "core/status.h"

namespace redkube {

struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string ToString() const { return host + ":" + std::to_string(port); }
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port" (IPv4 literal or name; port 1-65535).
Result<HostPort> ParseHostPort(std::string_view text);

struct SlotRange {
  int first = 0;
  int last = 0;  // inclusive
  bool operator==(const SlotRange&) const = default;
};

struct Shard {
  std::string id;
  HostPort master;
  std::vector<HostPort> replicas;
  std::vector<SlotRange> slots;
  // A failover is under way (docs/configserver.md, "Fence before promote"):
  // proxies send nothing to this master (every request routed to it gets
  // -TRYAGAIN; reads from replicas go on) and confirm the epoch once no
  // request to it is in flight. In the JSON, "fenced": true, omitted when
  // false.
  bool fenced = false;
};

struct Migration {
  std::vector<SlotRange> slots;
  std::string from;  // shard ids
  std::string to;
  // Keys (their bytes) the mover is moving in chunks: proxies must not
  // touch them until a later epoch lifts the hold (docs/migration.md). In
  // the JSON, "held_keys": lowercase hex of each key; each in `slots`.
  std::vector<std::string> held_keys;
};

class Topology {
 public:
  // Parses and validates a JSON document: every slot covered exactly once,
  // shard ids unique, addresses valid, migrations between known shards of
  // slots the source owns. The error names the problem.
  static Result<std::shared_ptr<const Topology>> FromJson(std::string_view json);

  const std::string& cluster() const { return cluster_; }
  uint64_t epoch() const { return epoch_; }
  const std::vector<Shard>& shards() const { return shards_; }
  const std::vector<Migration>& migrations() const { return migrations_; }

  // Index into shards() of the shard owning the slot. Proxy code asks its
  // SlotRouter instead, the one place that also knows migrations.
  int ShardIndexForSlot(uint16_t slot) const { return slot_owner_[slot]; }
  // Index into shards() of the shard a migration is moving the slot to, or
  // -1 when the slot is not in a migration. A slot is in one migration at
  // most.
  int ImporterIndexForSlot(uint16_t slot) const { return slot_importer_[slot]; }

  std::string ToJson() const;

 private:
  std::string cluster_;
  uint64_t epoch_ = 0;
  std::vector<Shard> shards_;
  std::vector<Migration> migrations_;
  std::array<int16_t, kSlotCount> slot_owner_{};
  std::array<int16_t, kSlotCount> slot_importer_{};
};

}  // namespace redkube
