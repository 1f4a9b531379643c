// CLIENT PAUSE held in the proxy, for the whole process: while a pause is
// on, the matching requests of every client on every worker wait (parked,
// as for a held key: DispatchOrder::kWaitForTopology) and run in their
// order when it ends, by its deadline or CLIENT UNPAUSE. WRITE pauses the
// requests the routing table flags kRouteWrites (the write-flagged
// commands, EVAL, EVALSHA, FCALL, EXEC); ALL pauses every request that gets
// past the checks redis-server makes first (unknown command, arity, AUTH).
//
// The request path reads one relaxed atomic (Active) and looks further only
// while a pause is on. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace redkube::proxy {

class ClientPause {
 public:
  enum class Mode : uint8_t { kWrite = 1, kAll = 2 };

  // Whether a pause may be on (its deadline may have passed already).
  bool Active() const { return until_ms_.load(std::memory_order_relaxed) != 0; }

  // Until `until_ms` (EventLoop::MonotonicMs). As redis-server does, a pause
  // under way is only extended and made stricter, never shortened.
  void Pause(Mode mode, int64_t until_ms) {
    int64_t current = until_ms_.load(std::memory_order_relaxed);
    uint8_t current_mode = mode_.load(std::memory_order_relaxed);
    if (current != 0 && current_mode > static_cast<uint8_t>(mode)) mode = static_cast<Mode>(current_mode);
    mode_.store(static_cast<uint8_t>(mode), std::memory_order_relaxed);
    while (current < until_ms && !until_ms_.compare_exchange_weak(current, until_ms)) {
    }
  }
  void Unpause() { until_ms_.store(0, std::memory_order_relaxed); }

  // The deadline a request must wait until, or 0 if it may run now.
  // `writes`: the request is flagged kRouteWrites. The first request after
  // the deadline turns the pause off, so that Active() is false again.
  int64_t WaitUntil(bool writes, int64_t now_ms) {
    int64_t until = until_ms_.load(std::memory_order_relaxed);
    if (until == 0) return 0;
    if (now_ms >= until) {
      until_ms_.compare_exchange_strong(until, 0,
                                        std::memory_order_relaxed);  // unless paused again meanwhile
      return 0;
    }
    if (!writes && mode_.load(std::memory_order_relaxed) != static_cast<uint8_t>(Mode::kAll)) return 0;
    return until;
  }
  // Milliseconds left (INFO), 0 when none.
  int64_t RemainingMs(int64_t now_ms) const {
    int64_t until = until_ms_.load(std::memory_order_relaxed);
    return until > now_ms ? until - now_ms : 0;
  }

 private:
  std::atomic<int64_t> until_ms_{0};
  std::atomic<uint8_t> mode_{0};
};

}  // namespace redkube::proxy
