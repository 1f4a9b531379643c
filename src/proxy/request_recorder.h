// Counts one worker's requests per command (calls, failed calls, latency
// from parse to reply) and hands slow ones to the SlowLog. The dispatcher
// names the request it is dispatching (Begin/End); reply slots opened
// meanwhile are stamped with it, and their replies recorded when they come.
// Worker thread only; the counters are single-writer (CommandStats).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/command_stats.h"
#include "proxy/event_loop.h"
#include "proxy/pending_reply.h"
#include "proxy/slow_log.h"

namespace redkube::proxy {

class RequestRecorder {
 public:
  RequestRecorder(EventLoop* loop, SlowLog* slow_log) : loop_(loop), slow_log_(slow_log) {}

  CommandStats& stats() { return stats_; }
  const CommandStats& stats() const { return stats_; }

  // The request being dispatched: its call is counted now.
  void Begin(uint16_t command_index, std::span<const std::string_view> argv) {
    current_ = command_index;
    argv_ = argv;
    BumpSingleWriter(stats_[command_index].calls, 1);
  }
  // The current request was put back to be dispatched again later (parked
  // on a held key): its call is counted when it is, not twice.
  void Withdraw() {
    if (current_ < 0) return;
    std::atomic<uint64_t>& calls = stats_[static_cast<uint16_t>(current_)].calls;
    calls.store(calls.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  void End() {
    current_ = -1;
    argv_ = {};
  }
  // A reply slot opened for the current request (if one is being dispatched).
  void Stamp(PendingReply* p) {
    if (current_ < 0) return;
    p->command = static_cast<uint16_t>(current_ + 1);
    p->start_us = loop_->now_us();
    if (slow_log_->IsSlow(INT64_MAX)) SlowLogArgs::Capture(argv_, &p->slowlog_args);
  }
  // A reply the proxy made itself for the current request: only its
  // failure counts (there is no server latency to record).
  void CountLocalReply(std::string_view reply) {
    if (current_ >= 0 && !reply.empty() && reply[0] == '-') {
      BumpSingleWriter(stats_[static_cast<uint16_t>(current_)].failed, 1);
    }
  }
  // The reply of a stamped slot: its latency, whether it failed, and the
  // slow log if it was slow. `peer` and `name` identify the client there.
  void Record(const PendingReply& p, std::string_view reply, const std::string& peer,
              const std::string& name) {
    CommandCounters& c = stats_[static_cast<uint16_t>(p.command - 1)];
    int64_t duration_us = loop_->now_us() - p.start_us;
    c.latency.RecordSingleWriter(duration_us);
    if (!reply.empty() && reply[0] == '-') BumpSingleWriter(c.failed, 1);
    if (slow_log_->IsSlow(duration_us) && !p.blocks) LogSlow(p, duration_us, peer, name);
  }

 private:
  void LogSlow(const PendingReply& p, int64_t duration_us, const std::string& peer, const std::string& name) {
    SlowLogEntry entry;
    entry.unix_time_s = time(nullptr);
    entry.duration_us = duration_us;
    entry.args = SlowLogArgs::Expand(p.slowlog_args);
    entry.client_addr = peer;
    entry.client_name = name;
    slow_log_->Add(std::move(entry));
  }

  EventLoop* loop_;
  SlowLog* slow_log_;
  CommandStats stats_;
  int current_ = -1;
  std::span<const std::string_view> argv_;
};

}  // namespace redkube::proxy
