#include "core/signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

namespace redkube {
namespace {

// The disposition of `sig` in this process.
sighandler_t HandlerOf(int sig) {
  struct sigaction current {};
  sigaction(sig, nullptr, &current);
  return current.sa_handler;
}

bool BlockedHere(int sig) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, sig) == 1;
}

TEST(SignalWaiterTest, BlocksItsSignalsAndIgnoresSigpipe) {
  SignalWaiter waiter({SIGUSR1, SIGWINCH});
  EXPECT_TRUE(BlockedHere(SIGUSR1));
  EXPECT_TRUE(BlockedHere(SIGWINCH));
  EXPECT_FALSE(BlockedHere(SIGUSR2));
  EXPECT_EQ(HandlerOf(SIGPIPE), SIG_IGN);
  // Ignored, SIGPIPE no longer ends the process.
  EXPECT_EQ(raise(SIGPIPE), 0);
}

TEST(SignalWaiterTest, WaitReturnsTheSignalThatArrived) {
  SignalWaiter waiter({SIGUSR1, SIGWINCH});
  // Blocked, the signal stays pending until taken.
  ASSERT_EQ(kill(getpid(), SIGWINCH), 0);
  EXPECT_EQ(waiter.Wait(), SIGWINCH);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  EXPECT_EQ(waiter.WaitFor(std::chrono::seconds(10)), SIGUSR1);
}

TEST(SignalWaiterTest, WaitForReturnsZeroWhenNoneArrives) {
  SignalWaiter waiter({SIGUSR1});
  EXPECT_EQ(waiter.WaitFor(std::chrono::milliseconds(20)), 0);
}

TEST(SignalWaiterTest, TakesASignalSentWhileAnotherThreadRuns) {
  SignalWaiter waiter({SIGUSR1});
  // A thread started after the waiter inherits the mask: the signal sent to
  // the process can only be taken by Wait.
  std::thread sender([] { kill(getpid(), SIGUSR1); });
  EXPECT_EQ(waiter.Wait(), SIGUSR1);
  sender.join();
}

TEST(ForwardSignalsTest, PassesTheSignalOnToTheChild) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Default action for SIGUSR2: the forwarded signal ends it.
    RestoreDefaultSignals();
    signal(SIGUSR2, SIG_DFL);
    for (;;) pause();
  }
  ForwardSignals(child, {SIGUSR2});
  ASSERT_EQ(raise(SIGUSR2), 0);  // handled here by sending it on
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  signal(SIGUSR2, SIG_DFL);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGUSR2);
}

TEST(RestoreDefaultSignalsTest, ChildGetsDefaultsAndNoMask) {
  SignalWaiter waiter({SIGINT, SIGTERM, SIGHUP});
  signal(SIGINT, SIG_IGN);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RestoreDefaultSignals();
    int failures = 0;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) {
      if (HandlerOf(sig) != SIG_DFL) ++failures;
      if (BlockedHere(sig)) ++failures;
    }
    _exit(failures);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  signal(SIGINT, SIG_DFL);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The parent keeps its arrangement.
  EXPECT_TRUE(BlockedHere(SIGTERM));
  EXPECT_EQ(HandlerOf(SIGPIPE), SIG_IGN);
}

}  // namespace
}  // namespace redkube
