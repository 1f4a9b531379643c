// The Lua scripts loaded through this proxy (SCRIPT LOAD), by SHA1, so that
// an EVALSHA a shard answers with NOSCRIPT (its master was replaced by a
// replica, which redis-server does not give its script cache; or the
// server restarted) is retried once after loading the script there: a
// script loaded through the proxy keeps running on every shard. SCRIPT FLUSH
// through the proxy empties it. Bounded; shared by the workers behind a
// mutex taken only by SCRIPT LOAD/FLUSH and on NOSCRIPT.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace redkube::proxy {

class ScriptCache {
 public:
  explicit ScriptCache(size_t max_bytes = 64u << 20) : max_bytes_(max_bytes) {}

  // Keeps `body` under its SHA1 (lower-case hex, as redis-server names it).
  // The oldest scripts go when the cache is over its size.
  void Add(std::string_view body);
  std::optional<std::string> Find(std::string_view sha1) const;
  void Clear();
  size_t size() const;

  static std::string Sha1Hex(std::string_view body);

 private:
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> by_sha_;
  std::deque<std::string> order_;  // oldest first
  size_t bytes_ = 0;
};

}  // namespace redkube::proxy
