// How redkube's programs take signals. A daemon takes its stop (and reload)
// signals synchronously on one thread (SignalWaiter): the signals are
// blocked everywhere, so no worker thread is ever interrupted and no handler
// has to be async-signal-safe. Writes to a closed socket return EPIPE
// instead of killing the process. A parent waiting on a child passes the
// stop signals on (ForwardSignals), and a forked child puts back what it
// inherited (RestoreDefaultSignals) before it execs another program.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <initializer_list>

namespace redkube {

// Blocks `signals` in the calling thread, and so in every thread it starts
// afterwards, and ignores SIGPIPE. Construct it in main before starting any
// thread (a thread started earlier keeps the signals unblocked and could
// take one instead). Waiting is for the constructing thread (any thread with
// the signals blocked works). The signals stay blocked after destruction.
class SignalWaiter {
 public:
  explicit SignalWaiter(std::initializer_list<int> signals);

  // Waits until one of the signals arrives; returns it.
  int Wait() const;
  // The same, for at most `timeout`; 0 if none arrived.
  int WaitFor(std::chrono::milliseconds timeout) const;

  const sigset_t& signals() const { return signals_; }

 private:
  sigset_t signals_;
};

// Until the process ends, each of `signals` this process receives is sent
// on to `child` (installs a handler; a signal blocked in every thread stays
// pending, so call it with them unblocked). One child at a time: a later
// call replaces the target.
void ForwardSignals(pid_t child, std::initializer_list<int> signals);

// For a child between fork and exec: unblocks every signal and gives the
// ones redkube programs ignore or take (SIGPIPE, SIGINT, SIGTERM, SIGHUP)
// their default action again; ignored signals and the mask survive exec,
// and the new program expects neither. Async-signal-safe.
void RestoreDefaultSignals();

}  // namespace redkube
