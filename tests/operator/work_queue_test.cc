#include "operator/work_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace redkube::op {
namespace {

using std::chrono::milliseconds;

TEST(WorkQueueTest, QueuesAKeyOnceHoweverManyEventsNameIt) {
  WorkQueue q;
  q.Add("ns/a");
  q.Add("ns/a");
  q.Add("ns/b");
  EXPECT_EQ(q.Length(), 2u);
  EXPECT_EQ(q.Get(), "ns/a");
  EXPECT_EQ(q.Get(), "ns/b");
}

TEST(WorkQueueTest, AKeyInProgressIsQueuedAgainAtDoneWhenAddedMeanwhile) {
  WorkQueue q;
  q.Add("ns/a");
  ASSERT_EQ(q.Get(), "ns/a");
  q.Add("ns/a");  // an event during the reconcile
  EXPECT_EQ(q.Length(), 0u) << "never handed to a second worker while in progress";
  q.Done("ns/a");
  EXPECT_EQ(q.Length(), 1u);
  EXPECT_EQ(q.Get(), "ns/a");
  q.Done("ns/a");
  EXPECT_EQ(q.Length(), 0u) << "no event came this time: nothing is queued again";
}

TEST(WorkQueueTest, DelayedKeysComeWhenDueAndAnAddWinsOverTheDelay) {
  WorkQueue q;
  auto start = WorkQueue::Clock::now();
  q.AddAfter("ns/later", milliseconds(150));
  q.AddAfter("ns/now", milliseconds(5000));
  q.Add("ns/now");
  EXPECT_EQ(q.Get(), "ns/now");
  EXPECT_LT(WorkQueue::Clock::now() - start, milliseconds(1000));
  EXPECT_EQ(q.Get(), "ns/later");
  EXPECT_GE(WorkQueue::Clock::now() - start, milliseconds(150));
}

TEST(WorkQueueTest, ShutdownWakesAWaitingWorker) {
  WorkQueue q;
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = q.Get(); });
  q.Shutdown();
  worker.join();
  EXPECT_FALSE(got.has_value());
}

}  // namespace
}  // namespace redkube::op
