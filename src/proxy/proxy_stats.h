// Process-wide counters, updated with relaxed atomics (once per connection or
// per batch, not per request) and read by INFO and /metrics.
#pragma once

#include <atomic>
#include <cstdint>

namespace redkube::proxy {

struct ProxyStats {
  std::atomic<int64_t> connected_clients{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> total_commands{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> next_client_id{1};
  std::atomic<uint64_t> bytes_in{0};   // read from clients
  std::atomic<uint64_t> bytes_out{0};  // written to clients
  std::atomic<uint64_t> output_limit_disconnects{0};
  std::atomic<uint64_t> idle_disconnects{0};
  std::atomic<uint64_t> subscriptions_restored{0};  // a client's, of one shard, after a lost connection
  std::atomic<uint64_t> scans_restarted{
      0};  // SCAN cursors of another shard layout, walked again from the start
  std::atomic<int64_t> next_refusal_log_ms{0};  // refused clients are logged once per 10 s
};

}  // namespace redkube::proxy
