#include "core/periodic_thread.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace redkube {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Long enough that a run "one interval later" never comes during a test.
constexpr milliseconds kNever = std::chrono::hours(1);
// How long a test waits for something that must happen before failing.
constexpr milliseconds kDeadline = std::chrono::seconds(10);

// Counts runs; lets the test wait for the n-th one.
class RunCounter {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++runs_;
    changed_.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kDeadline, [&] { return runs_ >= n; });
  }
  int runs() {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int runs_ = 0;
};

TEST(PeriodicThreadTest, FirstRunAtStartThenWaitsTheInterval) {
  RunCounter counter;
  PeriodicThread thread("test", kNever, [&] { counter.Add(); });
  thread.Start();
  ASSERT_TRUE(counter.WaitFor(1));
  thread.Stop();
  EXPECT_EQ(counter.runs(), 1);
}

TEST(PeriodicThreadTest, AfterIntervalDoesNotRunAtStartAndStopsPromptly) {
  RunCounter counter;
  PeriodicThread thread(
      "test", kNever, [&] { counter.Add(); }, PeriodicThread::FirstRun::kAfterInterval);
  thread.Start();
  auto before = Clock::now();
  thread.Stop();
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(2));
  EXPECT_EQ(counter.runs(), 0);
}

TEST(PeriodicThreadTest, RepeatsEveryInterval) {
  RunCounter counter;
  PeriodicThread thread("test", milliseconds(2), [&] { counter.Add(); });
  thread.Start();
  EXPECT_TRUE(counter.WaitFor(5));
}

TEST(PeriodicThreadTest, WakeRunsWithoutWaitingTheInterval) {
  RunCounter counter;
  PeriodicThread thread(
      "test", kNever, [&] { counter.Add(); }, PeriodicThread::FirstRun::kAfterInterval);
  thread.Start();
  thread.Wake();
  ASSERT_TRUE(counter.WaitFor(1));
  thread.Wake();
  EXPECT_TRUE(counter.WaitFor(2));
}

TEST(PeriodicThreadTest, WakeFromInsideTheRunRunsAgainAtOnce) {
  RunCounter counter;
  PeriodicThread* self = nullptr;
  PeriodicThread thread("test", kNever, [&] {
    counter.Add();
    if (counter.runs() < 5) self->Wake();
  });
  self = &thread;
  thread.Start();
  ASSERT_TRUE(counter.WaitFor(5));
  thread.Stop();
  EXPECT_EQ(counter.runs(), 5);
}

TEST(PeriodicThreadTest, StopWaitsForTheRunUnderWayAndNoRunFollows) {
  std::mutex mu;
  std::condition_variable cv;
  bool in_run = false, release = false;
  std::vector<std::string> events;
  PeriodicThread thread("test", milliseconds(0), [&] {
    std::unique_lock<std::mutex> lock(mu);
    if (in_run) {
      events.push_back("second run");
      return;
    }
    in_run = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    events.push_back("run ended");
  });
  thread.Start();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kDeadline, [&] { return in_run; }));
  }
  std::thread stopper([&] {
    thread.Stop();
    std::lock_guard<std::mutex> lock(mu);
    events.push_back("stop returned");
  });
  // Stop() has begun (the run is still blocked) before the run is let go.
  auto deadline = Clock::now() + kDeadline;
  while (!thread.stopping() && Clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(thread.stopping());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  stopper.join();
  EXPECT_EQ(events, (std::vector<std::string>{"run ended", "stop returned"}));
}

TEST(PeriodicThreadTest, StopWithoutStartAndStartAfterStopDoNothing) {
  RunCounter counter;
  PeriodicThread thread("test", milliseconds(0), [&] { counter.Add(); });
  thread.Stop();
  thread.Start();
  thread.Wake();
  thread.Stop();
  EXPECT_EQ(counter.runs(), 0);
  EXPECT_TRUE(thread.stopping());
}

TEST(PeriodicThreadTest, DestructorStopsAndWaitsForTheRun) {
  RunCounter counter;
  std::atomic<bool> run_ended{false};
  {
    PeriodicThread* self = nullptr;
    PeriodicThread thread("test", kNever, [&] {
      counter.Add();
      // Returns only once the destructor's Stop() has begun.
      while (!self->stopping()) std::this_thread::yield();
      run_ended = true;
    });
    self = &thread;
    thread.Start();
    ASSERT_TRUE(counter.WaitFor(1));
  }
  EXPECT_TRUE(run_ended.load());
  EXPECT_EQ(counter.runs(), 1);
}

TEST(PeriodicThreadTest, NamesItsThreadKeepingFifteenCharacters) {
  std::mutex mu;
  std::string seen;
  RunCounter counter;
  PeriodicThread thread("a-very-long-thread-name", kNever, [&] {
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof(name));
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = name;
    }
    counter.Add();
  });
  thread.Start();
  ASSERT_TRUE(counter.WaitFor(1));
  thread.Stop();
  EXPECT_EQ(seen, "a-very-long-thr");
}

}  // namespace
}  // namespace redkube
