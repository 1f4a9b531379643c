// The creation workflow stepped against a fake platform and ConfigServer:
// each phase waits for what the test has not made ready yet, and stepping a
// created cluster again does nothing.
#include "runtime/create_workflow.h"

#include <gtest/gtest.h>

#include "fake_configserver.h"
#include "fake_platform.h"

namespace redkube::runtime {
namespace {

using testing::BorrowedConfigServer;
using testing::FakeConfigServer;
using testing::FakePlatform;

class CreateWorkflowTest : public ::testing::Test {
 protected:
  CreateWorkflow Workflow(ClusterShape shape, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return CreateWorkflow(
        &platform_, std::move(shape), [this](const std::string& step) { steps_.push_back(step); }, timeout,
        [this](const ControlPlane&) { return std::make_unique<BorrowedConfigServer>(&configserver_); });
  }
  static ClusterShape Shape(int shards = 2, int replicas = 1) {
    return ClusterShape{.name = "demo", .shards = shards, .replicas = replicas, .proxies = 2};
  }

  FakePlatform platform_;
  FakeConfigServer configserver_;
  std::vector<std::string> steps_;
};

TEST_F(CreateWorkflowTest, EachPhaseWaitsForWhatIsNotReadyThenTheClusterIsDone) {
  CreateWorkflow workflow = Workflow(Shape());

  StepResult step = workflow.Step();
  EXPECT_TRUE(step.waiting());
  EXPECT_EQ(step.phase, kPhaseServersReady);
  EXPECT_EQ(step.message, "shard-0: shard-0-0 not ready");
  EXPECT_TRUE(platform_.HasGroup("shard-0"));
  EXPECT_TRUE(platform_.HasGroup("shard-1"));
  ASSERT_EQ(configserver_.records.count("demo"), 1u);
  EXPECT_EQ(configserver_.calls["RegisterShard"], 0);  // nothing registered before all answer

  platform_.SetGroupReady("shard-0");
  step = workflow.Step();
  EXPECT_EQ(step.phase, kPhaseServersReady);
  EXPECT_EQ(step.message, "shard-1: shard-1-0 not ready");

  platform_.SetGroupReady("shard-1");
  step = workflow.Step();
  EXPECT_TRUE(step.waiting());
  EXPECT_EQ(step.phase, kPhaseReplication);
  EXPECT_EQ(step.message, "shard-0 has 1 replica(s) not in sync");
  EXPECT_EQ(configserver_.calls["RegisterShard"], 2);
  EXPECT_EQ(configserver_.Shard("demo", "shard-0")->at("master"), "127.0.0.1:7000");
  EXPECT_EQ(platform_.proxy_count(), 0);  // no proxies before replication

  configserver_.SyncReplicas("demo");
  step = workflow.Step();
  EXPECT_EQ(step.phase, kPhaseProxiesReady);
  EXPECT_EQ(platform_.proxy_count(), 2);
  EXPECT_EQ(configserver_.calls["RegisterShard"], 2);  // registered as recorded: not again

  platform_.proxies_ready = true;
  step = workflow.Step();
  EXPECT_TRUE(step.done()) << step.phase << ": " << step.message;
  EXPECT_EQ(step.phase, kPhaseReady);
  ASSERT_TRUE(workflow.control_plane().has_value());
  EXPECT_EQ(workflow.control_plane()->token, "token");
  EXPECT_EQ(steps_.front(), "control plane: etcd and ConfigServers");
  EXPECT_EQ(steps_.back(), "wait until the proxies answer");
}

TEST_F(CreateWorkflowTest, SteppingACreatedClusterAgainChangesNothing) {
  platform_.proxies_ready = true;
  CreateWorkflow workflow = Workflow(Shape(1, 2));
  ASSERT_TRUE(workflow.Step().waiting());
  platform_.SetGroupReady("shard-0");
  ASSERT_TRUE(workflow.Step().waiting());
  configserver_.SyncReplicas("demo");
  ASSERT_TRUE(workflow.Step().done());
  const auto record = configserver_.records["demo"];
  const int started = platform_.calls["StartedGroup"];
  const size_t reported = steps_.size();

  // A new workflow object too (the operator makes one per reconcile).
  CreateWorkflow again = Workflow(Shape(1, 2));
  for (CreateWorkflow* w : {&workflow, &again}) EXPECT_TRUE(w->Step().done());
  EXPECT_EQ(configserver_.calls["CreateCluster"], 1);
  EXPECT_EQ(configserver_.calls["RegisterShard"], 1);
  EXPECT_EQ(platform_.calls["StartedGroup"], started);
  EXPECT_EQ(configserver_.records["demo"], record);
  EXPECT_EQ(steps_.size(), reported + 8);  // only the fresh workflow said its phases
}

TEST_F(CreateWorkflowTest, AMemberWithANewAddressIsRegisteredAgainKeepingTheMaster) {
  platform_.proxies_ready = true;
  CreateWorkflow workflow = Workflow(Shape(1, 1));
  workflow.Step();
  platform_.SetGroupReady("shard-0");
  workflow.Step();
  configserver_.SyncReplicas("demo");
  ASSERT_TRUE(workflow.Step().done());
  // The record lost a node (as after a pod's IP changed and the old one was removed).
  (*configserver_.Shard("demo", "shard-0"))["nodes"] = {"127.0.0.1:7000"};
  StepResult step = workflow.Step();
  EXPECT_EQ(configserver_.calls["RegisterShard"], 2);
  EXPECT_EQ(step.phase, kPhaseReplication);  // the re-registered replica syncs first
  EXPECT_EQ(configserver_.Shard("demo", "shard-0")->at("master"), "127.0.0.1:7000");
}

TEST_F(CreateWorkflowTest, NoConfigServerAnsweringIsWaitingAPlatformErrorIsFailed) {
  configserver_.reachable = false;
  CreateWorkflow workflow = Workflow(Shape());
  StepResult step = workflow.Step();
  EXPECT_TRUE(step.waiting());
  EXPECT_EQ(step.phase, kPhaseClusterRecord);
  EXPECT_FALSE(platform_.HasGroup("shard-0"));  // nothing started before the record exists

  configserver_.reachable = true;
  platform_.fail_group = "shard-1";
  step = workflow.Step();
  EXPECT_TRUE(step.failed());
  EXPECT_EQ(step.phase, kPhaseServers);
  EXPECT_EQ(step.message, "start shard-1: cannot start shard-1");

  platform_.control_plane_error = "etcd does not start";
  step = workflow.Step();
  EXPECT_TRUE(step.failed());
  EXPECT_EQ(step.phase, kPhaseControlPlane);
}

TEST_F(CreateWorkflowTest, ARecordWithMoreShardsThanAskedFailsAndFewerIsAnInterruptedScale) {
  ASSERT_TRUE(configserver_.CreateCluster("demo", 3).ok());
  StepResult step = Workflow(Shape(2)).Step();
  EXPECT_TRUE(step.failed());
  EXPECT_EQ(step.message, "cluster demo exists with 3 shards, more than 2");

  configserver_.records.clear();
  ASSERT_TRUE(configserver_.CreateCluster("demo", 1).ok());
  platform_.proxies_ready = true;
  CreateWorkflow workflow = Workflow(Shape(2, 0));
  workflow.Step();
  platform_.SetGroupReady("shard-0");
  platform_.SetGroupReady("shard-1");
  step = workflow.Step();
  EXPECT_TRUE(step.done()) << step.phase << ": " << step.message;
  EXPECT_EQ(configserver_.calls["RegisterShard"], 1);  // shard-1 runs, not registered: scale's job
  EXPECT_NE(
      std::find(steps_.begin(), steps_.end(),
                "shard-1 is not in the cluster record (an interrupted scale); `redkube scale` finishes it"),
      steps_.end());
}

TEST_F(CreateWorkflowTest, ABuiltClusterWhoseRecordIsGoneIsNotCreatedAgain) {
  ClusterShape shape = Shape();
  shape.record_must_exist = true;
  CreateWorkflow workflow = Workflow(shape);
  StepResult step = workflow.Step();
  EXPECT_TRUE(step.failed());
  EXPECT_EQ(step.phase, kPhaseClusterRecord);
  EXPECT_NE(step.message.find("no record of cluster demo"), std::string::npos) << step.message;
  EXPECT_EQ(configserver_.calls["CreateCluster"], 0);
  EXPECT_FALSE(platform_.HasGroup("shard-0")) << "nothing past the record is touched";
}

TEST_F(CreateWorkflowTest, RunFailsWhenOnePhaseWaitsLongerThanTheStepTimeout) {
  CreateWorkflow workflow = Workflow(Shape(1), std::chrono::milliseconds(300));
  auto created = workflow.Run(std::chrono::milliseconds(20));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error(), "servers-ready: still waiting after 300 ms: shard-0: shard-0-0 not ready");

  platform_.SetGroupReady("shard-0");
  configserver_.SyncReplicas("demo");
  // Replication is not in sync until the fake syncs; nothing else blocks.
  platform_.proxies_ready = true;
  auto second = Workflow(Shape(1), std::chrono::milliseconds(300)).Run(std::chrono::milliseconds(20));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), "replication: still waiting after 300 ms: shard-0 has 1 replica(s) not in sync");
  configserver_.SyncReplicas("demo");
  auto third = Workflow(Shape(1)).Run(std::chrono::milliseconds(20));
  ASSERT_TRUE(third.ok()) << third.error();
  EXPECT_EQ(third->configserver_urls, platform_.plane.configserver_urls);
}

}  // namespace
}  // namespace redkube::runtime
