// The scale workflow run against a fake platform and ConfigServer: the
// order of its steps (groups ready before their shards are added, shards
// deleted only once drained, groups removed last), what a failed migration
// leaves, and that a resumed or repeated scale does only what is left.
// Run() blocks, so the test plays the ConfigServer's mover from the
// workflow's progress reporter, which hears every poll of the migrations.
#include "runtime/scale_workflow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "fake_configserver.h"
#include "fake_platform.h"
#include "runtime/shard_steps.h"

namespace redkube::runtime {
namespace {

using testing::BorrowedConfigServer;
using testing::FakeConfigServer;
using testing::FakePlatform;

std::vector<std::string> Shards(int n) {
  std::vector<std::string> ids;
  for (int k = 0; k < n; ++k) ids.push_back(ShardGroupName(k));
  return ids;
}

class ScaleWorkflowTest : public ::testing::Test {
 protected:
  ScaleWorkflowTest() {
    platform_.events = &events_;
    configserver_.events = &events_;
    platform_.ready_after = 2;          // a new group answers at the second look
    configserver_.sync_on_read = true;  // a registered replica syncs after one read
  }

  // A created cluster of `shards` shards of 2 members: registered, in sync,
  // balanced; with nothing counted or logged yet.
  void Created(int shards) {
    ASSERT_TRUE(configserver_.CreateCluster("demo", shards).ok());
    for (const auto& id : Shards(shards)) Started(id, /*added=*/true);
    Forget();
  }
  // Group `id` started and ready; with `added`, its shard also in the record
  // (added if need be) with its members registered and in sync.
  void Started(const std::string& id, bool added) {
    ASSERT_TRUE(platform_.EnsureServerGroup(id, 2, "").ok());
    platform_.SetGroupReady(id);
    if (!added) return;
    ASSERT_TRUE(configserver_.AddShard("demo", id).ok());
    ASSERT_TRUE(RegisterGroup(&platform_, configserver_, "demo", id).ok());
    configserver_.SyncReplicas("demo");
  }
  void Forget() {
    events_.clear();
    platform_.calls.clear();
    configserver_.calls.clear();
  }

  Result<ScaleSummary> Scale(int shards, ScaleWorkflow::ProgressReporter progress) {
    ScaleRequest request{.cluster = "demo", .shards = shards, .members = 2, .throttle = {.keys_per_s = 500}};
    return ScaleWorkflow(
               &platform_, platform_.plane, request,
               [this](const std::string& step) { steps_.push_back(step); }, std::move(progress),
               std::chrono::seconds(5), std::chrono::milliseconds(1),
               [this](const ControlPlane&) { return std::make_unique<BorrowedConfigServer>(&configserver_); })
        .Run();
  }

  // The mover, one poll's worth: up to `slots` slots of each unfinished
  // migration move. Bounded: after 100 polls it fails them, so that a
  // workflow that never sees them end stops (and the test fails).
  void Move(int slots = 1000) {
    const bool give_up = ++moves_ > 100;
    const nlohmann::json migrations = configserver_.migrations["demo"];
    for (const auto& m : migrations) {
      if (give_up) {
        configserver_.FailMigration("demo", m["id"], "the test's mover gave up");
      } else {
        configserver_.MoveSlots("demo", m["id"], slots);
      }
    }
  }
  bool AllMigrationsDone() {
    const auto& migrations = configserver_.migrations["demo"];
    return !migrations.empty() && std::all_of(migrations.begin(), migrations.end(),
                                              [](const auto& m) { return m["state"] == "done"; });
  }
  std::vector<std::string> MigrationsFrom(const std::string& shard) {
    std::vector<std::string> ids;
    for (const auto& m : configserver_.migrations["demo"]) {
      if (m["from"] == shard) ids.push_back(m["id"]);
    }
    return ids;
  }

  size_t At(const std::string& event) const {
    return std::find(events_.begin(), events_.end(), event) - events_.begin();
  }
  int Count(const std::string& event) const {
    return static_cast<int>(std::count(events_.begin(), events_.end(), event));
  }
  // Whether both happened, `first` before `second`.
  ::testing::AssertionResult Before(const std::string& first, const std::string& second) const {
    std::string log;
    for (const auto& e : events_) log += "\n  " + e;
    if (At(first) == events_.size())
      return ::testing::AssertionFailure() << "no \"" << first << "\" in" << log;
    if (At(second) == events_.size())
      return ::testing::AssertionFailure() << "no \"" << second << "\" in" << log;
    if (At(first) > At(second)) {
      return ::testing::AssertionFailure() << "\"" << second << "\" before \"" << first << "\" in" << log;
    }
    return ::testing::AssertionSuccess();
  }
  std::vector<int> SlotCounts() {
    std::vector<int> counts;
    for (const auto& s : configserver_.records["demo"]["shards"]) {
      counts.push_back(configserver_.SlotCount("demo", s["id"]));
    }
    return counts;
  }
  bool Balanced(int shards) {
    auto record = configserver_.GetCluster("demo");
    return record.ok() && SlotsBalanced(record.value(), Shards(shards)) &&
           static_cast<int>(record->shards.size()) == shards;
  }

  FakePlatform platform_;
  FakeConfigServer configserver_;
  std::vector<std::string> events_;
  std::vector<std::string> steps_;
  int moves_ = 0;
};

TEST_F(ScaleWorkflowTest, ScaleOutStartsTheNewGroupsAddsThemWhenReadyAndRebalancesOverAll) {
  Created(3);
  int polls = 0;
  auto scaled = Scale(5, [&](const MigrationProgress& progress) {
    ++polls;
    EXPECT_EQ(progress.total, 4);
    Move();
  });
  ASSERT_TRUE(scaled.ok()) << scaled.error();

  for (const std::string id : {"shard-3", "shard-4"}) {
    EXPECT_TRUE(Before("start " + id, "ready " + id));
    EXPECT_TRUE(Before("ready " + id, "add " + id));  // the ConfigServer hears of it once it answers
    EXPECT_TRUE(Before("add " + id, "register " + id));
    EXPECT_TRUE(Before("register " + id, "rebalance shard-0,shard-1,shard-2,shard-3,shard-4"));
  }
  EXPECT_EQ(configserver_.calls["Rebalance"], 1);
  EXPECT_EQ(configserver_.last_throttle.keys_per_s, 500);
  // It came back only once every migration was done.
  EXPECT_TRUE(AllMigrationsDone());
  EXPECT_GE(polls, 3);  // 1000 slots a poll, 2185 the most one migration moves
  EXPECT_EQ(SlotCounts(), (std::vector<int>{3277, 3277, 3277, 3277, 3276}));
  EXPECT_TRUE(Balanced(5));
  EXPECT_EQ(scaled->added, (std::vector<std::string>{"shard-3", "shard-4"}));
  EXPECT_TRUE(scaled->removed.empty());
  EXPECT_EQ(scaled->migrations, (std::vector<std::string>{"m-1", "m-2", "m-3", "m-4"}));
  EXPECT_EQ(scaled->moved.slots_done, 3277 + 3276);
  EXPECT_EQ(scaled->moved.keys_moved, 10 * (3277 + 3276));
  EXPECT_EQ(platform_.calls["StartedGroup"], 2);
  EXPECT_EQ(configserver_.calls["DeleteShard"], 0);
  EXPECT_EQ(platform_.calls["RemoveServerGroup"], 0);
}

TEST_F(ScaleWorkflowTest, ScaleInDrainsThenDeletesTheDrainedShardsThenRemovesTheirGroups) {
  Created(5);
  auto scaled = Scale(2, [&](const MigrationProgress&) {
    // Nothing goes while slots move.
    EXPECT_EQ(configserver_.calls["DeleteShard"], 0);
    EXPECT_EQ(platform_.calls["RemoveServerGroup"], 0);
    Move();
  });
  ASSERT_TRUE(scaled.ok()) << scaled.error();

  EXPECT_EQ(Count("rebalance shard-0,shard-1"), 1);
  EXPECT_TRUE(AllMigrationsDone());
  for (const std::string id : {"shard-2", "shard-3", "shard-4"}) {
    ASSERT_FALSE(MigrationsFrom(id).empty()) << id;
    for (const auto& m : MigrationsFrom(id)) EXPECT_TRUE(Before("done " + m, "delete " + id));
    EXPECT_TRUE(Before("delete " + id, "remove " + id));  // its servers outlive its place in the record
    EXPECT_FALSE(platform_.HasGroup(id));
    EXPECT_EQ(configserver_.Shard("demo", id), nullptr);
  }
  EXPECT_TRUE(Before("remove shard-4", "delete shard-3"));  // last first
  EXPECT_TRUE(Before("remove shard-3", "delete shard-2"));
  EXPECT_EQ(SlotCounts(), (std::vector<int>{8192, 8192}));
  EXPECT_TRUE(Balanced(2));
  EXPECT_EQ(scaled->removed, (std::vector<std::string>{"shard-4", "shard-3", "shard-2"}));
  EXPECT_TRUE(scaled->added.empty());
  EXPECT_EQ(scaled->moved.slots_done, 3277 + 3277 + 3276);  // what shard-2..4 held
  EXPECT_TRUE(platform_.HasGroup("shard-0"));
  EXPECT_TRUE(platform_.HasGroup("shard-1"));
}

TEST_F(ScaleWorkflowTest, AFailedMigrationStopsTheRunWithItsMessageAndRemovesNothing) {
  Created(5);
  bool failed = false;
  auto scaled = Scale(2, [&](const MigrationProgress&) {
    if (!std::exchange(failed, true)) {
      configserver_.MoveSlots("demo", "m-1", 100);
      configserver_.FailMigration("demo", "m-1", "source shard-2 does not answer");
    }
    Move();  // the others go on meanwhile
  });
  ASSERT_FALSE(scaled.ok());
  EXPECT_EQ(scaled.error(),
            "migration m-1 (shard-2 -> shard-0) failed: source shard-2 does not answer; slots already moved "
            "stay where they are and every slot has one owner. Run the same scale again to go on");
  EXPECT_EQ(configserver_.calls["DeleteShard"], 0);
  EXPECT_EQ(platform_.calls["RemoveServerGroup"], 0);
  for (const auto& id : Shards(5)) {
    EXPECT_NE(configserver_.Shard("demo", id), nullptr) << id;
    EXPECT_TRUE(platform_.HasGroup(id)) << id;
  }
  EXPECT_EQ(configserver_.SlotCount("demo", "shard-2"), 3277 - 100);
}

TEST_F(ScaleWorkflowTest, AnInterruptedScaleOutResumedDoesOnlyWhatIsLeft) {
  Created(3);
  // The first run started both groups and added shard-3, then was stopped.
  Started("shard-3", /*added=*/true);
  Started("shard-4", /*added=*/false);
  Forget();

  auto scaled = Scale(5, [&](const MigrationProgress&) { Move(); });
  ASSERT_TRUE(scaled.ok()) << scaled.error();
  EXPECT_EQ(platform_.calls["StartedGroup"], 0);
  EXPECT_EQ(Count("add shard-3"), 0);
  EXPECT_EQ(Count("register shard-3"), 0);
  EXPECT_TRUE(Before("add shard-4", "register shard-4"));
  EXPECT_EQ(Count("register shard-4"), 1);
  EXPECT_EQ(configserver_.calls["Rebalance"], 1);
  EXPECT_EQ(scaled->added, (std::vector<std::string>{"shard-4"}));
  EXPECT_TRUE(AllMigrationsDone());
  EXPECT_TRUE(Balanced(5));
}

TEST_F(ScaleWorkflowTest, AScaleInterruptedWhileSlotsMoveWaitsForThemAndRebalancesNoMore) {
  Created(3);
  Started("shard-3", /*added=*/true);
  Started("shard-4", /*added=*/true);
  auto queued = configserver_.Rebalance("demo", Shards(5), {});
  ASSERT_TRUE(queued.ok()) << queued.error();
  ASSERT_EQ(queued->size(), 4u);
  Move(500);  // under way when the first run stopped
  Forget();

  auto scaled = Scale(5, [&](const MigrationProgress&) { Move(); });
  ASSERT_TRUE(scaled.ok()) << scaled.error();
  EXPECT_NE(std::find(steps_.begin(), steps_.end(), "wait for the 4 migration(s) already in progress"),
            steps_.end());
  EXPECT_EQ(configserver_.calls["Rebalance"], 0);
  EXPECT_EQ(configserver_.calls["AddShard"], 0);
  EXPECT_EQ(configserver_.calls["RegisterShard"], 0);
  EXPECT_EQ(platform_.calls["StartedGroup"], 0);
  EXPECT_EQ(scaled->migrations, queued.value());
  EXPECT_TRUE(Balanced(5));
}

TEST_F(ScaleWorkflowTest, AScaleToTheCurrentSizeChangesNothing) {
  Created(3);
  const nlohmann::json record = configserver_.records["demo"];
  auto scaled = Scale(3, [&](const MigrationProgress&) { ADD_FAILURE() << "no migration to follow"; });
  ASSERT_TRUE(scaled.ok()) << scaled.error();
  EXPECT_TRUE(events_.empty()) << events_.front();
  EXPECT_EQ(configserver_.records["demo"], record);
  EXPECT_EQ(configserver_.calls["Rebalance"], 0);
  EXPECT_EQ(configserver_.calls["AddShard"], 0);
  EXPECT_EQ(configserver_.calls["RegisterShard"], 0);
  EXPECT_EQ(configserver_.calls["DeleteShard"], 0);
  EXPECT_EQ(platform_.calls["EnsureServerGroup"], 0);
  EXPECT_EQ(platform_.calls["RemoveServerGroup"], 0);
  EXPECT_TRUE(scaled->added.empty());
  EXPECT_TRUE(scaled->removed.empty());
  EXPECT_TRUE(scaled->migrations.empty());
  EXPECT_TRUE(steps_.empty());
}

}  // namespace
}  // namespace redkube::runtime
