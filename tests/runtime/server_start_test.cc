#include "runtime/server_start.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "fake_configserver.h"

namespace redkube::runtime {
namespace {

using Role = ServerStartDecision::Role;
using nlohmann::json;

ShardView Shard(const std::string& master, const std::vector<std::string>& nodes) {
  ShardView s{.id = "shard-0", .master = master};
  for (auto& n : nodes) s.nodes.push_back(NodeView{.address = n});
  return s;
}

ServerStartDecision Decide(std::optional<ShardView> shard, std::optional<std::string> previous,
                           std::string current, bool over = false) {
  return DecideServerStart(ServerStartInput{.shard = std::move(shard),
                                            .previous = std::move(previous),
                                            .current = std::move(current),
                                            .failover_wait_over = over});
}

TEST(ServerStartTest, NoRecordOrNoMasterStartsAsAMaster) {
  EXPECT_EQ(Decide(std::nullopt, std::nullopt, "10.0.0.5:6379").role, Role::kMaster);
  EXPECT_EQ(Decide(Shard("", {}), "10.0.0.5:6379", "10.0.0.5:6379").role, Role::kMaster);
  EXPECT_FALSE(Decide(Shard("", {}), std::nullopt, "10.0.0.5:6379").master.has_value());
}

TEST(ServerStartTest, AnotherRecordedMasterMakesAReplicaOfIt) {
  // Restarted at the same address, at a new one, or never run (a new pod).
  for (const auto& previous : {std::optional<std::string>("10.0.0.2:6379"),
                               std::optional<std::string>("10.0.0.9:6379"), std::optional<std::string>()}) {
    auto d = Decide(Shard("10.0.0.1:6379", {"10.0.0.1:6379", "10.0.0.2:6379"}), previous, "10.0.0.2:6379");
    EXPECT_EQ(d.role, Role::kReplica);
    ASSERT_TRUE(d.master.has_value());
    EXPECT_EQ(d.master->ToString(), "10.0.0.1:6379");
  }
  auto bad = Decide(Shard("not-an-address", {"10.0.0.2:6379"}), std::nullopt, "10.0.0.2:6379");
  EXPECT_EQ(bad.role, Role::kMaster);
}

TEST(ServerStartTest, TheRecordedMasterComingBackWaitsForAFailoverUnlessItIsAlone) {
  auto shard = Shard("10.0.0.1:6379", {"10.0.0.1:6379", "10.0.0.2:6379"});
  // Same address (the local runtime), or a pod recreated with a new IP.
  EXPECT_EQ(Decide(shard, "10.0.0.1:6379", "10.0.0.1:6379").role, Role::kWaitForFailover);
  EXPECT_EQ(Decide(shard, "10.0.0.1:6379", "10.0.0.7:6379").role, Role::kWaitForFailover);
  // Its address with no memory of the past (an empty volume): still not a master at once.
  EXPECT_EQ(Decide(shard, std::nullopt, "10.0.0.1:6379").role, Role::kWaitForFailover);
  EXPECT_EQ(Decide(shard, "10.0.0.1:6379", "10.0.0.1:6379", /*over=*/true).role, Role::kMaster);
  EXPECT_EQ(Decide(Shard("10.0.0.1:6379", {"10.0.0.1:6379"}), "10.0.0.1:6379", "10.0.0.1:6379").role,
            Role::kMaster);
}

TEST(ServerStartTest, WaitingAsksAgainUntilTheFailoverThenReplicatesFromTheNewMaster) {
  testing::FakeConfigServer configserver;
  ASSERT_TRUE(configserver.CreateCluster("demo", 1).ok());
  ASSERT_TRUE(configserver.RegisterShard("demo", "shard-0", {"10.0.0.1:6379", "10.0.0.2:6379"}).ok());
  // The fake fails the shard over after the third look.
  struct FailingOver : testing::BorrowedConfigServer {
    FailingOver(testing::FakeConfigServer* f) : BorrowedConfigServer(f), fake(f) {}
    Result<std::optional<ClusterView>> FindCluster(const std::string& name) override {
      if (++looks == 3) fake->SetMaster("demo", "shard-0", "10.0.0.2:6379");
      return BorrowedConfigServer::FindCluster(name);
    }
    testing::FakeConfigServer* fake;
    int looks = 0;
  } failing_over(&configserver);
  auto d = DecideWithConfigServer(failing_over, "demo", "shard-0", "10.0.0.1:6379", "10.0.0.1:6379",
                                  std::chrono::seconds(5), nullptr, std::chrono::milliseconds(5));
  EXPECT_EQ(d.role, Role::kReplica);
  EXPECT_EQ(failing_over.looks, 3);
  EXPECT_EQ(d.master->ToString(), "10.0.0.2:6379");

  // No failover within the wait: as it was. No answer at all: asked again, then a master.
  configserver.SetMaster("demo", "shard-0", "10.0.0.1:6379");
  auto start = std::chrono::steady_clock::now();
  d = DecideWithConfigServer(configserver, "demo", "shard-0", "10.0.0.1:6379", "10.0.0.1:6379",
                             std::chrono::milliseconds(100), nullptr, std::chrono::milliseconds(5));
  EXPECT_EQ(d.role, Role::kMaster);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  configserver.reachable = false;
  const int looks = configserver.calls["FindCluster"];
  d = DecideWithConfigServer(configserver, "demo", "shard-0", std::nullopt, "10.0.0.3:6379",
                             std::chrono::milliseconds(50), nullptr, std::chrono::milliseconds(5));
  EXPECT_EQ(d.role, Role::kMaster);
  EXPECT_GT(configserver.calls["FindCluster"] - looks, 2);
  EXPECT_NE(d.reason.find("no ConfigServer answered"), std::string::npos) << d.reason;
}

TEST(ServerStartTest, TheConfigHasTheIncludeFirstThenWhatRedkubeNeeds) {
  std::string text = RenderServerConfig(ServerConfig{.bind = "10.0.0.2",
                                                     .port = 6379,
                                                     .dir = "/data",
                                                     .password = "p\"w\\d",
                                                     .include = "/etc/redkube/config/redis.conf",
                                                     .replica_of = HostPort{"10.0.0.1", 6379}});
  EXPECT_LT(text.find("include \"/etc/redkube/config/redis.conf\"\n"), text.find("bind 10.0.0.2\n"));
  for (const char* line : {"port 6379\n", "dir \"/data\"\n", "requirepass \"p\\\"w\\\\d\"\n",
                           "masterauth \"p\\\"w\\\\d\"\n", "appendonly yes\n", "appendfsync everysec\n",
                           "save \"\"\n", "repl-diskless-sync-delay 0\n", "replicaof 10.0.0.1 6379\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from\n" << text;
  }
  std::string master = RenderServerConfig(ServerConfig{.bind = "127.0.0.1", .port = 7000, .dir = "/d"});
  EXPECT_EQ(master.find("replicaof"), std::string::npos);
  EXPECT_EQ(master.find("include"), std::string::npos);
  EXPECT_EQ(master.find("requirepass"), std::string::npos);
}

TEST(ServerStartTest, TheMemberFileRemembersTheAddressPrivately) {
  std::string dir = ::testing::TempDir() + "/server-start-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  EXPECT_FALSE(ReadPreviousAddress(dir).has_value());
  ASSERT_TRUE(WritePreviousAddress(dir, "10.0.0.2:6379").ok());
  EXPECT_EQ(ReadPreviousAddress(dir), "10.0.0.2:6379");
  struct stat st {};
  ASSERT_EQ(stat(MemberFilePath(dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::ofstream(MemberFilePath(dir)) << "not json";
  EXPECT_FALSE(ReadPreviousAddress(dir).has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace redkube::runtime
