// The proxy's SLOWLOG: requests whose reply took at least a threshold, from
// the moment the proxy parsed them to the moment their reply was ready (the
// servers' time included, which is what a client waits for). Shared by the
// workers behind a mutex that only slow requests and SLOWLOG itself take.
// Entries look like redis-server's: id, unix time, microseconds, arguments,
// client address and name. Fewer arguments are kept than Redis keeps (4 of
// at most 48 bytes, against 32 of 128), since they are copied for every
// request; cuts are worded as Redis words them.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redkube::proxy {

struct SlowLogEntry {
  uint64_t id = 0;
  int64_t unix_time_s = 0;
  int64_t duration_us = 0;
  std::vector<std::string> args;
  std::string client_addr;
  std::string client_name;
};

class SlowLog {
 public:
  // threshold_us < 0: disabled; 0: every request.
  SlowLog(int64_t threshold_us, size_t max_len) : threshold_us_(threshold_us), max_len_(max_len) {}

  bool IsSlow(int64_t duration_us) const { return threshold_us_ >= 0 && duration_us >= threshold_us_; }
  void Add(SlowLogEntry entry);
  // The newest `count` entries, newest first (count < 0: all).
  std::vector<SlowLogEntry> Newest(int64_t count) const;
  size_t Length() const;
  void Reset();
  // Requests logged since start (RESET does not clear it), for /metrics.
  uint64_t total() const;

 private:
  const int64_t threshold_us_;
  const size_t max_len_;
  mutable std::mutex mu_;
  std::deque<SlowLogEntry> entries_;  // newest first
  uint64_t next_id_ = 0;
};

// The arguments of a request as kept for the slow log, in a reusable
// string: at most kMaxArgs, each cut to kMaxArgBytes. Cheap enough to fill
// for every request (no allocation once warm).
class SlowLogArgs {
 public:
  static constexpr size_t kMaxArgs = 4;
  static constexpr size_t kMaxArgBytes = 48;

  static void Capture(std::span<const std::string_view> argv, std::string* out);
  // Back to SLOWLOG's form, as Redis words it: an argument cut short ends
  // with "... (N more bytes)", and a last "... (N more arguments)" when
  // some were left.
  static std::vector<std::string> Expand(std::string_view captured);
};

}  // namespace redkube::proxy
