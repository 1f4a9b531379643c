// A single-threaded epoll event loop, the pattern of Redis's ae.c: file
// events dispatched to handlers, a periodic tick for timeouts, and a hook
// that runs before each sleep so that output produced by a whole batch of
// events is written with one system call per socket. Only Wakeup() may be
// called from other threads.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace redkube::proxy {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // events: EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits.
  virtual void OnEvent(uint32_t events) = 0;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Add(int fd, uint32_t events, EventHandler* handler);
  void Modify(int fd, uint32_t events, EventHandler* handler);
  void Remove(int fd);

  // Runs until Stop(); calls before_sleep after each batch of events and tick
  // about every tick_ms. It may be run again once it returned.
  void Run();
  void Stop() { stopping_ = true; }
  void SetBeforeSleep(std::function<void()> fn) { before_sleep_ = std::move(fn); }
  void SetTick(int tick_ms, std::function<void()> fn) {
    tick_ms_ = tick_ms;
    tick_ = std::move(fn);
  }
  // Wakes the loop from another thread; on_wakeup then runs in the loop.
  void Wakeup();
  void SetOnWakeup(std::function<void()> fn) { on_wakeup_ = std::move(fn); }
  // Runs `task` on the loop's thread soon (from any thread, the loop's own
  // included): the way work crosses threads (CLIENT LIST over every worker,
  // a reply computed elsewhere). Tasks run in the order posted, before
  // on_wakeup; a task posted after the loop stopped for good never runs.
  void Post(std::function<void()> task);

  // Monotonic milliseconds, refreshed once per batch of events.
  int64_t now_ms() const { return now_us_ / 1000; }
  // The same instant in microseconds (request latencies).
  int64_t now_us() const { return now_us_; }
  static int64_t MonotonicMs();
  static int64_t MonotonicUs();

 private:
  class WakeupHandler;

  int epoll_fd_;
  int wakeup_fd_;
  bool stopping_ = false;
  int64_t now_us_;
  int tick_ms_ = 100;
  int64_t next_tick_ms_ = 0;
  std::function<void()> before_sleep_;
  std::function<void()> tick_;
  std::function<void()> on_wakeup_;
  EventHandler* wakeup_handler_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;

  void RunPosted();
};

}  // namespace redkube::proxy
