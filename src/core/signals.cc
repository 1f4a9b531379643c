#include "core/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace redkube {
namespace {

// Read by the handler: a lock-free integer is all a handler may touch.
volatile sig_atomic_t forward_to = 0;

void Forward(int sig) {
  if (forward_to > 0) kill(static_cast<pid_t>(forward_to), sig);
}

}  // namespace

SignalWaiter::SignalWaiter(std::initializer_list<int> signals) {
  sigemptyset(&signals_);
  for (int sig : signals) sigaddset(&signals_, sig);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int SignalWaiter::Wait() const {
  int sig = 0;
  // sigwait fails only for an invalid set; retrying keeps "returns a
  // signal" true regardless.
  while (sigwait(&signals_, &sig) != 0) {
  }
  return sig;
}

int SignalWaiter::WaitFor(std::chrono::milliseconds timeout) const {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec wait{static_cast<time_t>(seconds.count()),
                static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count())};
  int sig = sigtimedwait(&signals_, nullptr, &wait);
  // EAGAIN (timeout) and EINTR (another, handled signal) both mean none of
  // ours arrived.
  return sig > 0 ? sig : 0;
}

void ForwardSignals(pid_t child, std::initializer_list<int> signals) {
  forward_to = child;
  struct sigaction forward {};
  forward.sa_handler = Forward;
  sigemptyset(&forward.sa_mask);
  for (int sig : signals) sigaction(sig, &forward, nullptr);
}

void RestoreDefaultSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_DFL);
}

}  // namespace redkube
