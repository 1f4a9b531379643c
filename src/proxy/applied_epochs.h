// The topology epoch each worker thread has applied, and the least of them:
// the epoch the whole proxy routes by. The ConfigServer's mover starts
// moving a migration step's keys only once every live proxy reports having
// applied the epoch that announced it (docs/migration.md), because a worker
// still on an older epoch would write a moving key on the source after the
// mover passed it.
//
// Each worker writes its own entry (Record) when it applies a topology, on
// its own thread; the topology watcher reads the minimum for its reports
// and waits (WaitFor) for a new epoch to be applied everywhere before its
// next long-poll, so the report reaches the ConfigServer at once. Recording
// takes a mutex (to wake the waiter), but only once per topology change,
// never on the request path.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace redkube::proxy {

class AppliedEpochs {
 public:
  explicit AppliedEpochs(int workers)
      : count_(workers > 0 ? workers : 0), epochs_(std::make_unique<std::atomic<uint64_t>[]>(count_)) {}

  // Worker `worker` (0 <= worker < count) now routes by `epoch`.
  void Record(int worker, uint64_t epoch) {
    epochs_[static_cast<size_t>(worker)].store(epoch, std::memory_order_release);
    // Under the mutex, so a waiter between its check and its wait cannot
    // miss the notification.
    std::lock_guard<std::mutex> lock(mu_);
    changed_.notify_all();
  }

  // The least epoch over the workers (0 before every one has applied one,
  // or with no workers).
  uint64_t Min() const {
    if (count_ == 0) return 0;
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < count_; ++i) {
      least = std::min(least, epochs_[static_cast<size_t>(i)].load(std::memory_order_acquire));
    }
    return least;
  }

  // Waits until Min() >= epoch or `timeout` passes; returns whether it is.
  bool WaitFor(uint64_t epoch, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return Min() >= epoch; });
  }

  int count() const { return count_; }

 private:
  const int count_;
  std::unique_ptr<std::atomic<uint64_t>[]> epochs_;
  std::mutex mu_;
  std::condition_variable changed_;
};

}  // namespace redkube::proxy
