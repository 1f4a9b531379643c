#include "proxy/slot_router.h"

#include "proxy/scan_cursor.h"

namespace redkube::proxy {
namespace {

// FNV-1a: stable across processes and builds, so every proxy of a cluster
// tags the same layout alike (a client's SCAN calls may reach several).
void Mix(uint64_t* h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    *h ^= c;
    *h *= 1099511628211ull;
  }
  *h ^= 0xff;  // field separator
  *h *= 1099511628211ull;
}

void MixRanges(uint64_t* h, const std::vector<SlotRange>& ranges) {
  for (const SlotRange& r : ranges) Mix(h, std::to_string(r.first) + "-" + std::to_string(r.last));
}

}  // namespace

SlotRouter::SlotRouter(std::shared_ptr<const Topology> topology) : topology_(std::move(topology)) {
  uint64_t h = 14695981039346656037ull;
  for (const Shard& s : topology_->shards()) {
    Mix(&h, s.id);
    Mix(&h, s.master.ToString());
    MixRanges(&h, s.slots);
  }
  for (const Migration& m : topology_->migrations()) {
    Mix(&h, m.from);
    Mix(&h, m.to);
    MixRanges(&h, m.slots);
    for (const std::string& key : m.held_keys) {
      held_.push_back(key);
      held_slots_.set(KeySlot(key));
    }
  }
  std::sort(held_.begin(), held_.end());
  scan_layout_tag_ = ScanCursor::TagOf(h);
  BuildScanOrder();
}

int SlotRouter::IndexOf(std::string_view shard_id) const {
  const auto& shards = topology_->shards();
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i].id == shard_id) return static_cast<int>(i);
  }
  return -1;
}

int SlotRouter::ChannelShards(std::string_view channel, int out[2]) const {
  uint16_t slot = KeySlot(channel);
  out[0] = OwnerOf(slot);
  int importer = ImporterOf(slot);
  if (importer < 0) return 1;
  out[1] = importer;
  return 2;
}

void SlotRouter::BuildScanOrder() {
  // A topological order of the "source before target" edges: repeatedly take
  // the first shard (in topology order) that no pending migration imports
  // into from a shard not yet placed. Migrations that form a cycle cannot
  // be ordered; the rest of the shards then follow in topology order.
  const int n = shard_count();
  std::vector<std::vector<int>> sources(n);
  for (const Migration& m : topology_->migrations()) {
    int from = IndexOf(m.from), to = IndexOf(m.to);
    if (from >= 0 && to >= 0) sources[to].push_back(from);
  }
  std::vector<bool> placed(n, false);
  scan_order_.clear();
  while (static_cast<int>(scan_order_.size()) < n) {
    int next = -1;
    for (int i = 0; i < n && next < 0; ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (int from : sources[i]) ready &= placed[from];
      if (ready) next = i;
    }
    if (next < 0) {  // a cycle
      for (int i = 0; i < n && next < 0; ++i) {
        if (!placed[i]) next = i;
      }
    }
    placed[next] = true;
    scan_order_.push_back(next);
  }
}

}  // namespace redkube::proxy
