// The Lua scripts loaded through this proxy (SCRIPT LOAD), by SHA1. Every
// new connection to a server loads them before any client request, so a
// server that lacks them (a replica promoted by a failover, a restarted
// server: redis-server neither replicates nor persists its script cache)
// has them before an EVALSHA can reach it. SCRIPT FLUSH through the proxy
// empties it. Bounded; shared by the workers behind a mutex taken only by
// SCRIPT LOAD/FLUSH and when a connection opens.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace redkube::proxy {

class ScriptCache {
 public:
  explicit ScriptCache(size_t max_bytes = 64u << 20) : max_bytes_(max_bytes) {}

  // Keeps `body` under its SHA1 (lower-case hex, as redis-server names it).
  // The oldest scripts go when the cache is over its size.
  void Add(std::string_view body);
  // Every script, oldest first.
  std::vector<std::string> Bodies() const;
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
