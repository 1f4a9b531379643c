#include "configserver/slot_set.h"

namespace redkube::configserver {

void SlotSet::Add(const std::vector<SlotRange>& ranges) {
  for (const auto& r : ranges) {
    for (int slot = std::max(r.first, 0); slot <= r.last && slot < kSlotCount; ++slot) bits_.set(slot);
  }
}

SlotSet SlotSet::Lowest(int n) const {
  SlotSet out;
  for (int slot = 0; slot < kSlotCount && n > 0; ++slot) {
    if (bits_.test(slot)) {
      out.bits_.set(slot);
      --n;
    }
  }
  return out;
}

SlotSet SlotSet::Highest(int n) const {
  SlotSet out;
  for (int slot = kSlotCount - 1; slot >= 0 && n > 0; --slot) {
    if (bits_.test(slot)) {
      out.bits_.set(slot);
      --n;
    }
  }
  return out;
}

std::vector<SlotRange> SlotSet::ToRanges() const {
  std::vector<SlotRange> out;
  for (int slot = 0; slot < kSlotCount; ++slot) {
    if (!bits_.test(slot)) continue;
    int last = slot;
    while (last + 1 < kSlotCount && bits_.test(last + 1)) ++last;
    out.push_back({slot, last});
    slot = last;
  }
  return out;
}

}  // namespace redkube::configserver
