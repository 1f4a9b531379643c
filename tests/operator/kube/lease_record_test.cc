#include "operator/kube/lease_record.h"

#include <gtest/gtest.h>

namespace redkube::kube {
namespace {

using std::chrono::seconds;

TEST(DecideLeaseTest, AbsentLeaseIsCreated) {
  EXPECT_EQ(DecideLease(false, {}, "me", seconds(0), seconds(15)), LeaseAction::kCreate);
}

TEST(DecideLeaseTest, OursIsRenewed) {
  LeaseRecord mine{"me", 15, "t0", "t1", 3};
  EXPECT_EQ(DecideLease(true, mine, "me", seconds(0), seconds(15)), LeaseAction::kRenew);
  // Even when we have not seen it change for long (we are its only writer).
  EXPECT_EQ(DecideLease(true, mine, "me", seconds(100), seconds(15)), LeaseAction::kRenew);
}

TEST(DecideLeaseTest, ReleasedIsTakenAtOnce) {
  LeaseRecord released{"", 1, "t0", "t1", 3};
  EXPECT_EQ(DecideLease(true, released, "me", seconds(0), seconds(15)), LeaseAction::kTakeOver);
}

TEST(DecideLeaseTest, AnotherHoldersLeaseWaitsForItsDuration) {
  LeaseRecord theirs{"them", 10, "t0", "t1", 0};
  EXPECT_EQ(DecideLease(true, theirs, "me", seconds(0), seconds(15)), LeaseAction::kWait);
  EXPECT_EQ(DecideLease(true, theirs, "me", seconds(9), seconds(15)), LeaseAction::kWait);
  // The record's own duration counts, not ours.
  EXPECT_EQ(DecideLease(true, theirs, "me", seconds(10), seconds(15)), LeaseAction::kTakeOver);
  LeaseRecord no_duration{"them", 0, "t0", "t1", 0};
  EXPECT_EQ(DecideLease(true, no_duration, "me", seconds(14), seconds(15)), LeaseAction::kWait);
  EXPECT_EQ(DecideLease(true, no_duration, "me", seconds(15), seconds(15)), LeaseAction::kTakeOver);
}

TEST(LeaseRecordTest, RoundTripsThroughTheLeaseSpec) {
  LeaseRecord record{"pod-a", 15, "2024-01-02T03:04:05.000006Z", "2024-01-02T03:04:07.123456Z", 2};
  nlohmann::json lease = {{"spec", LeaseSpec(record)}};
  EXPECT_EQ(LeaseRecordFromLease(lease), record);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "pod-a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(LeaseRecordFromLease(nlohmann::json::object()), LeaseRecord{});
  // Zero/empty fields are left out (the API server refuses them).
  nlohmann::json spec = LeaseSpec(LeaseRecord{});
  EXPECT_FALSE(spec.contains("leaseDurationSeconds"));
  EXPECT_FALSE(spec.contains("renewTime"));
}

TEST(MicroTimeTest, Format) {
  using namespace std::chrono;
  // 2006-01-02T15:04:05Z is 1136214245.
  system_clock::time_point t{seconds(1136214245) + microseconds(7)};
  EXPECT_EQ(FormatMicroTime(t), "2006-01-02T15:04:05.000007Z");
  EXPECT_EQ(FormatMicroTime(system_clock::time_point{seconds(0)}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatMicroTime(system_clock::time_point{seconds(1136214245) + microseconds(999999)}),
            "2006-01-02T15:04:05.999999Z");
}

}  // namespace
}  // namespace redkube::kube
