// What the proxy knows of one redis-server over all its worker threads'
// shared (pipelined) connections: reply latency, open connections, and how
// often a connection to it failed. One per server address for the process's
// lifetime; connections hold a pointer to theirs.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/latency_histogram.h"

namespace redkube::proxy {

struct BackendStats {
  LatencyHistogram latency;  // request sent -> reply read
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> failures{0};
};

}  // namespace redkube::proxy
