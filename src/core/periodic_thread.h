// A background thread that runs one function every interval until stopped:
// the loop of every poller, prober and refresher in redkube.
//
// Contract:
//  - Start() starts the thread, at most once. The first run is at once
//    (FirstRun::kAtStart) or one interval after Start (kAfterInterval).
//  - Runs never overlap and are spaced by `interval` measured from the end
//    of one run to the start of the next, so a slow run delays the next one
//    rather than piling runs up.
//  - Wake() makes the next run start now: if the thread is waiting it runs
//    at once; if a run is under way (Wake() called from inside the function
//    included) another one follows it without waiting. Wakes are not
//    counted: several before a run cause one run.
//  - Stop() ends the waiting at once, lets a run under way finish (it is not
//    interrupted: a function that blocks long must be made to return by its
//    owner first), joins the thread and returns. No run starts after Stop()
//    begins. Idempotent, and safe without Start(); the destructor calls it.
//    Must not be called from inside the function (it would join itself).
//  - Thread-safe: Wake(), Stop() and stopping() may be called from any
//    thread.
//
// The function's owner must stop the PeriodicThread before anything the
// function uses goes away (declare it last, or call Stop() in the owner's
// destructor).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace redkube {

class PeriodicThread {
 public:
  enum class FirstRun { kAtStart, kAfterInterval };

  // `name` names the thread (as ps and gdb show it; at most 15 characters
  // are kept).
  PeriodicThread(std::string name, std::chrono::milliseconds interval, std::function<void()> run,
                 FirstRun first = FirstRun::kAtStart);
  ~PeriodicThread();

  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  void Start();
  void Wake();
  void Stop();

  // Whether Stop() has begun: a long run may check it to return early.
  bool stopping() const;

 private:
  void Loop();

  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> run_;
  const FirstRun first_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace redkube
