// The body of a Kubernetes watch: one JSON object per line,
// {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}},
// arriving in chunks that split lines anywhere. Pure (no I/O), so the
// framing and parsing are tested without an API server.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace redkube::kube {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // The object (ADDED/MODIFIED/DELETED), an object carrying only
  // metadata.resourceVersion (BOOKMARK), or a metav1.Status (ERROR).
  nlohmann::json object;

  // metadata.resourceVersion of the object; "" for ERROR events.
  std::string ResourceVersion() const;
};

// One line (without its newline) -> an event; an error for anything that is
// not a JSON object with a known type and an object member.
Result<WatchEvent> ParseWatchEvent(std::string_view line);

// Reassembles lines from chunks. Not thread-safe (one per stream).
class WatchLineSplitter {
 public:
  // A line longer than this is an error (the stream is not what we think),
  // so a broken server cannot make us buffer without bound.
  explicit WatchLineSplitter(size_t max_line_bytes = 64 << 20) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line for every complete non-empty line in data (after what
  // earlier calls left over), in order, and keeps the incomplete rest.
  // Stops and returns false as soon as on_line returns false. An error when
  // the unfinished line outgrows the limit.
  Result<bool> Feed(std::string_view data, const std::function<bool(std::string_view line)>& on_line);

  // Bytes of an unfinished line held back.
  size_t pending() const { return pending_.size(); }

 private:
  size_t max_line_bytes_;
  std::string pending_;
};

}  // namespace redkube::kube
