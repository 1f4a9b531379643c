// Per-command counters of one worker thread: calls, failed calls (an error
// reply) and the latency of requests answered by servers, from the moment
// the request was parsed to the moment its reply was queued for the client.
// Written by the worker only; read (relaxed) by INFO and /metrics, which sum
// every worker's.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/command_table.h"
#include "proxy/latency_histogram.h"

namespace redkube::proxy {

// Every command and subcommand of the table, with a dense index for arrays.
class CommandIndex {
 public:
  static const CommandIndex& Instance();
  // The index of `spec` (a pointer into the CommandTable).
  uint16_t Of(const CommandSpec& spec) const;
  std::span<const CommandSpec* const> specs() const { return specs_; }

 private:
  CommandIndex();
  std::vector<const CommandSpec*> specs_;
};

struct CommandCounters {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> failed{0};
  LatencyHistogram latency;
};

class CommandStats {
 public:
  CommandStats() : counters_(std::make_unique<CommandCounters[]>(CommandIndex::Instance().specs().size())) {}

  CommandCounters& operator[](uint16_t index) { return counters_[index]; }
  const CommandCounters& operator[](uint16_t index) const { return counters_[index]; }
  // Zeroes every counter (CONFIG RESETSTAT); on the writing thread only.
  void Reset() {
    for (size_t i = 0; i < CommandIndex::Instance().specs().size(); ++i) {
      counters_[i].calls.store(0, std::memory_order_relaxed);
      counters_[i].failed.store(0, std::memory_order_relaxed);
      counters_[i].latency.Reset();
    }
  }

 private:
  std::unique_ptr<CommandCounters[]> counters_;
};

}  // namespace redkube::proxy
