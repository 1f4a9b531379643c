// Where the requests of every slot go under one topology: the shard that
// owns the slot and, while the slot is in a migration, the shard importing
// it. Every routing decision of the proxy (keyed commands, splits,
// WATCH/EXEC, channels, scripts, SCAN) asks a SlotRouter; no other proxy
// code reads the topology's slot tables.
//
// Built once per topology a worker applies; immutable afterwards, so it may
// be shared (a client keeps the router its subscriptions were placed by, to
// tell later where they must move).
#pragma once

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/slot.h"
#include "core/topology.h"

namespace redkube::proxy {

class SlotRouter {
 public:
  explicit SlotRouter(std::shared_ptr<const Topology> topology);

  const Topology& topology() const { return *topology_; }
  int shard_count() const { return static_cast<int>(topology_->shards().size()); }
  const Shard& shard(int index) const { return topology_->shards()[index]; }
  // The index of the shard with this id, or -1.
  int IndexOf(std::string_view shard_id) const;

  // The shard owning the slot: the one that holds its keys, and the only
  // one while the slot is not moving.
  int OwnerOf(uint16_t slot) const { return topology_->ShardIndexForSlot(slot); }
  int OwnerOfKey(std::string_view key) const { return OwnerOf(KeySlot(key)); }
  // The shard a migration moves the slot to, or -1.
  int ImporterOf(uint16_t slot) const { return topology_->ImporterIndexForSlot(slot); }
  bool Migrating(uint16_t slot) const { return ImporterOf(slot) >= 0; }
  // Whether the mover holds `key` (of migrating slot `slot`): it is being
  // moved in chunks, and no request may touch it until a later topology
  // lifts the hold. A slot without held keys answers at once.
  bool Held(uint16_t slot, std::string_view key) const {
    return held_slots_[slot] && std::binary_search(held_.begin(), held_.end(), key, std::less<>());
  }
  // Whether any of argv[keys[i]] (all of `slot`) is held.
  bool AnyHeld(uint16_t slot, std::span<const std::string_view> argv, std::span<const uint32_t> keys) const {
    if (!held_slots_[slot]) return false;
    for (uint32_t k : keys) {
      if (Held(slot, argv[k])) return true;
    }
    return false;
  }

  // Pub/sub: the shards a subscriber to `channel` must listen on. A channel
  // is published on its slot's owner; while the slot moves, subscribers
  // listen on the importer too, so that the flip (after which publishers
  // use the importer) has no gap. Writes 1 or 2 indexes to out; returns how
  // many.
  int ChannelShards(std::string_view channel, int out[2]) const;

  // SCAN walks the shards in this order: the source of every migration
  // before its target, so that a key moved during the walk (one way, from
  // source to target) is met on one side or the other.
  std::span<const int> scan_order() const { return scan_order_; }
  // A hash of what a SCAN cursor depends on: which shard holds which slots,
  // the masters (a backend cursor means nothing on another server) and the
  // migrations. Cursors carry it; one issued under another layout restarts
  // the walk. Never 0.
  uint32_t scan_layout_tag() const { return scan_layout_tag_; }

 private:
  void BuildScanOrder();

  std::shared_ptr<const Topology> topology_;
  // Every migration's held keys, sorted, and the slots that have any.
  std::vector<std::string> held_;
  std::bitset<kSlotCount> held_slots_;
  std::vector<int> scan_order_;
  uint32_t scan_layout_tag_ = 1;
};

}  // namespace redkube::proxy
