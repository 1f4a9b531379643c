// The epoch a proxy reports is the least its workers have applied, and a
// waiter wakes as soon as the last worker applies it.
#include "proxy/applied_epochs.h"

#include <gtest/gtest.h>

#include <thread>

namespace redkube::proxy {
namespace {

TEST(AppliedEpochsTest, IsZeroUntilEveryWorkerHasAppliedOne) {
  AppliedEpochs epochs(3);
  EXPECT_EQ(epochs.Min(), 0u);
  epochs.Record(0, 5);
  epochs.Record(2, 5);
  EXPECT_EQ(epochs.Min(), 0u);
  epochs.Record(1, 5);
  EXPECT_EQ(epochs.Min(), 5u);
}

TEST(AppliedEpochsTest, IsTheLeastOverTheWorkers) {
  AppliedEpochs epochs(3);
  for (int w = 0; w < 3; ++w) epochs.Record(w, 7);
  epochs.Record(0, 9);
  epochs.Record(2, 8);
  EXPECT_EQ(epochs.Min(), 7u);  // worker 1 lags
  epochs.Record(1, 9);
  EXPECT_EQ(epochs.Min(), 8u);
}

TEST(AppliedEpochsTest, NoWorkersReportNothing) { EXPECT_EQ(AppliedEpochs(0).Min(), 0u); }

TEST(AppliedEpochsTest, AWaiterWakesWhenTheLastWorkerApplies) {
  AppliedEpochs epochs(2);
  epochs.Record(0, 4);
  epochs.Record(1, 3);
  std::thread late([&] { epochs.Record(1, 4); });
  // Far longer than the record takes: a wait that returned only at its
  // timeout would fail the time bound below.
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(epochs.WaitFor(4, std::chrono::seconds(20)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  late.join();
  EXPECT_EQ(epochs.Min(), 4u);
}

TEST(AppliedEpochsTest, AWaitForALaggingWorkerEndsAtItsTimeout) {
  AppliedEpochs epochs(2);
  epochs.Record(0, 6);
  epochs.Record(1, 5);
  EXPECT_FALSE(epochs.WaitFor(6, std::chrono::milliseconds(50)));
  EXPECT_TRUE(epochs.WaitFor(5, std::chrono::milliseconds(0)));
}

}  // namespace
}  // namespace redkube::proxy
