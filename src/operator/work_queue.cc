#include "operator/work_queue.h"

namespace redkube::op {

void WorkQueue::AddLocked(const std::string& key) {
  delayed_.erase(key);
  if (in_progress_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) queue_.push_back(key);
}

void WorkQueue::Add(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return;
    AddLocked(key);
  }
  cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return Add(key);
  {
    std::lock_guard lock(mu_);
    if (shutdown_ || queued_.count(key) || dirty_.count(key)) return;  // due sooner already
    auto due = Clock::now() + delay;
    auto [it, inserted] = delayed_.emplace(key, due);
    if (!inserted && due < it->second) it->second = due;
  }
  cv_.notify_one();
}

void WorkQueue::PromoteDueLocked(Clock::time_point now) {
  for (auto it = delayed_.begin(); it != delayed_.end();) {
    if (it->second <= now) {
      std::string key = it->first;
      it = delayed_.erase(it);
      AddLocked(key);
    } else {
      ++it;
    }
  }
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (shutdown_) return std::nullopt;
    PromoteDueLocked(Clock::now());
    if (!queue_.empty()) {
      std::string key = queue_.front();
      queue_.pop_front();
      queued_.erase(key);
      in_progress_.insert(key);
      return key;
    }
    if (delayed_.empty()) {
      cv_.wait(lock);
    } else {
      auto next = delayed_.begin()->second;
      for (const auto& [key, due] : delayed_) next = std::min(next, due);
      cv_.wait_until(lock, next);
    }
  }
}

void WorkQueue::Done(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    in_progress_.erase(key);
    if (dirty_.erase(key) && !shutdown_ && queued_.insert(key).second) queue_.push_back(key);
  }
  cv_.notify_one();
}

void WorkQueue::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

size_t WorkQueue::Length() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace redkube::op
