// The reconciler's queue of RedisCluster keys ("namespace/name"), with the
// guarantees of client-go's workqueue that a level-triggered controller
// relies on:
//  - a key is queued at most once, however many events name it;
//  - a key being reconciled is never handed to a second worker; an Add
//    meanwhile marks it dirty, and Done() queues it again, so the change that
//    came in during the reconcile is not lost;
//  - AddAfter() queues a key later (a requeue while a workflow waits); an
//    earlier Add() wins over a later deadline.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace redkube::op {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, std::chrono::milliseconds delay);
  // Blocks until a key is due, or returns nothing once Shutdown() was called.
  std::optional<std::string> Get();
  // The worker finished `key` (handed out by Get()).
  void Done(const std::string& key);
  void Shutdown();

  // Keys queued now (not the delayed ones, not those in progress).
  size_t Length() const;

 private:
  void AddLocked(const std::string& key);
  void PromoteDueLocked(Clock::time_point now);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;       // in queue_
  std::set<std::string> in_progress_;  // handed out, not Done
  std::set<std::string> dirty_;        // added while in progress
  std::map<std::string, Clock::time_point> delayed_;
  bool shutdown_ = false;
};

}  // namespace redkube::op
