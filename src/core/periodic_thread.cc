#include "core/periodic_thread.h"

#include <pthread.h>

#include <utility>

namespace redkube {

PeriodicThread::PeriodicThread(std::string name, std::chrono::milliseconds interval,
                               std::function<void()> run, FirstRun first)
    : name_(std::move(name)), interval_(interval), run_(std::move(run)), first_(first) {}

PeriodicThread::~PeriodicThread() { Stop(); }

void PeriodicThread::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  // A stopped one stays stopped: Stop() promised that no run follows.
  if (stopping_ || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void PeriodicThread::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void PeriodicThread::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Taken out under the lock so that two concurrent Stop()s do not both
    // join it.
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) thread.join();
}

bool PeriodicThread::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void PeriodicThread::Loop() {
  // The kernel keeps 15 characters and a terminator; a longer name would
  // make the call fail and leave the thread unnamed.
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock<std::mutex> lock(mu_);
  bool wait_first = first_ == FirstRun::kAfterInterval;
  while (!stopping_) {
    if (wait_first) {
      wake_.wait_for(lock, interval_, [this] { return stopping_ || woken_; });
      if (stopping_) break;
    }
    wait_first = true;
    woken_ = false;
    lock.unlock();
    run_();
    lock.lock();
  }
}

}  // namespace redkube
