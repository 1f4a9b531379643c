// A set of hash slots, for the arithmetic of migrations and rebalancing
// (a shard's slots minus a step, the next N slots of a migration). Ranges
// in, ranges out: the record and the topology keep slots as sorted,
// non-overlapping [first, last] ranges.
#pragma once

#include <bitset>
#include <vector>

#include "core/slot.h"
#include "core/topology.h"

namespace redkube::configserver {

class SlotSet {
 public:
  SlotSet() = default;
  explicit SlotSet(const std::vector<SlotRange>& ranges) { Add(ranges); }

  void Add(const std::vector<SlotRange>& ranges);
  void Add(int slot) { bits_.set(slot); }
  void Remove(const SlotSet& other) { bits_ &= ~other.bits_; }
  void Add(const SlotSet& other) { bits_ |= other.bits_; }

  bool Contains(int slot) const { return slot >= 0 && slot < kSlotCount && bits_.test(slot); }
  bool ContainsAll(const SlotSet& other) const { return (other.bits_ & ~bits_).none(); }
  bool Intersects(const SlotSet& other) const { return (other.bits_ & bits_).any(); }
  int Count() const { return static_cast<int>(bits_.count()); }
  bool Empty() const { return bits_.none(); }

  // The lowest `n` slots of the set (all of them when it has fewer).
  SlotSet Lowest(int n) const;
  // The highest `n` slots of the set.
  SlotSet Highest(int n) const;

  std::vector<SlotRange> ToRanges() const;
  bool operator==(const SlotSet&) const = default;

 private:
  std::bitset<kSlotCount> bits_;
};

}  // namespace redkube::configserver
