// The proxy's SCAN cursor: where a SCAN over every shard is, as the one
// unsigned 64-bit number a client passes back.
//
//   bits  0-11  position in the SlotRouter's scan order (4096 shards at most)
//   bits 12-29  the router's layout tag when the cursor was issued
//   bits 30-63  the cursor of the shard's own redis-server
//
// Cursor 0 starts (and ends) a walk. What SCAN promises across topology
// changes, as Redis promises it for one server: every key present for the
// whole scan is returned at least once (some may come twice). A backend
// cursor only means something on the server and the shard layout it came
// from; a cursor whose tag is not the current layout's therefore restarts
// the walk from the first shard (the client sees more duplicates, never a
// gap). Within one layout a migration moves keys from its source to its
// target only, and the scan order walks sources first, so a moving key is
// met on one side or the other.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace redkube::proxy {

struct ScanCursor {
  static constexpr int kPositionBits = 12;
  static constexpr int kTagBits = 18;
  static constexpr int kBackendBits = 64 - kPositionBits - kTagBits;
  static constexpr uint32_t kMaxShards = 1u << kPositionBits;

  uint64_t backend = 0;
  uint32_t position = 0;
  uint32_t tag = 0;  // 0 only in cursor 0

  // A layout hash folded into the tag's range, never 0.
  static uint32_t TagOf(uint64_t hash) { return 1 + static_cast<uint32_t>(hash % ((1u << kTagBits) - 1)); }
  // Whether a backend cursor fits in the bits it has.
  static bool Fits(uint64_t backend_cursor) { return backend_cursor < (uint64_t{1} << kBackendBits); }

  static std::optional<ScanCursor> Parse(std::string_view text) {
    uint64_t v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
    ScanCursor c;
    c.position = static_cast<uint32_t>(v & (kMaxShards - 1));
    c.tag = static_cast<uint32_t>((v >> kPositionBits) & ((1u << kTagBits) - 1));
    c.backend = v >> (kPositionBits + kTagBits);
    return c;
  }

  uint64_t Encode() const {
    return (backend << (kPositionBits + kTagBits)) | (uint64_t{tag} << kPositionBits) | position;
  }
  bool IsStart() const { return backend == 0 && position == 0 && tag == 0; }
};

}  // namespace redkube::proxy
