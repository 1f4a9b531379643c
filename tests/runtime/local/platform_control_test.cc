// The supervisor's control socket end to end: a LocalPlatform running real
// redis-servers behind a PlatformControlServer, driven through a
// RemotePlatform as `redkube scale` drives it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/local/cluster_directory.h"
#include "runtime/local/local_platform.h"
#include "runtime/local/platform_control_server.h"
#include "runtime/local/remote_platform.h"

namespace redkube::runtime {
namespace {

namespace fs = std::filesystem;

// A base port whose servers' ports (base+100 .. base+121) are free.
int FreeBasePort() {
  for (int base = 24000 + getpid() % 50 * 100; base < 32000; base += 137) {
    bool free = true;
    for (int p = base + 100; p < base + 122 && free; ++p) free = !PortTaken(p);
    if (free) return base;
  }
  return 0;
}

class PlatformControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/redkube-ctl-XXXXXX";
    base_ = mkdtemp(tmpl);
    LocalClusterSpec spec;
    spec.shards = 1;
    spec.port = FreeBasePort();
    ASSERT_NE(spec.port, 0);
    layout_.emplace(LocalLayout::Make(spec, base_).value());
    ASSERT_TRUE(MakeClusterDirs(*layout_).ok());
    ASSERT_TRUE(SaveClusterSpec(*layout_).ok());
    platform_.emplace(*layout_, "pw-control-test", "token", "/nonexistent");
    server_.emplace(&*platform_, layout_->ControlSocket());
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_.reset();
    platform_.reset();  // stops every server it started
    fs::remove_all(base_);
  }
  int SavedShards() const { return LoadClusterSpec(base_, "demo").value()->shards; }

  std::string base_;
  std::optional<LocalLayout> layout_;
  std::optional<LocalPlatform> platform_;
  std::optional<PlatformControlServer> server_;
};

TEST_F(PlatformControlTest, GroupsAreAddedAndRemovedAtTheEndAndTheSavedShapeFollows) {
  RemotePlatform remote(layout_->ControlSocket());
  struct stat st {};
  ASSERT_EQ(stat(layout_->ControlSocket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  ASSERT_TRUE(remote.EnsureServerGroup("shard-0", 2, "").ok());
  EXPECT_EQ(remote.ListServerGroups().value(), std::vector<std::string>{"shard-0"});
  Status gap = remote.EnsureServerGroup("shard-2", 2, "");
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.message().find("shard-1 comes first"), std::string::npos) << gap.message();
  EXPECT_EQ(SavedShards(), 1);

  ASSERT_TRUE(remote.EnsureServerGroup("shard-1", 2, "").ok());
  EXPECT_EQ(SavedShards(), 2);  // written before the group started
  Status ready = WaitMembersReady(&remote, "shard-1", std::chrono::seconds(20));
  ASSERT_TRUE(ready.ok()) << ready.message();
  auto members = remote.ListMembers("shard-1");
  ASSERT_TRUE(members.ok()) << members.error();
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ(members->at(1).name, "shard-1-1");
  EXPECT_EQ(members->at(1).address.port, layout_->ServerPort(1, 1));
  EXPECT_TRUE(members->at(0).running);
  EXPECT_EQ(remote.ListServerGroups().value(), (std::vector<std::string>{"shard-0", "shard-1"}));
  EXPECT_TRUE(fs::exists(layout_->ServerDataDir(1, 0)));

  Status middle = remote.RemoveServerGroup("shard-0");
  ASSERT_FALSE(middle.ok());
  EXPECT_NE(middle.message().find("shard-1 goes first"), std::string::npos) << middle.message();

  ASSERT_TRUE(remote.RemoveServerGroup("shard-1").ok());
  EXPECT_EQ(SavedShards(), 1);
  EXPECT_FALSE(fs::exists(layout_->ServerDataDir(1, 0)));
  EXPECT_FALSE(fs::exists(layout_->ServerDataDir(1, 1)));
  EXPECT_FALSE(PortTaken(layout_->ServerPort(1, 0)));
  EXPECT_FALSE(remote.ListMembers("shard-1").ok());
  EXPECT_TRUE(remote.RemoveServerGroup("shard-1").ok());  // again: already gone
  EXPECT_EQ(remote.ListServerGroups().value(), std::vector<std::string>{"shard-0"});
  EXPECT_FALSE(remote.RemoveServerGroup("shard-0").ok());  // the last one stays
  EXPECT_FALSE(remote.EnsureControlPlane().ok());
}

TEST_F(PlatformControlTest, AGroupBeyondThePortSchemeIsRefused) {
  RemotePlatform remote(layout_->ControlSocket());
  Status s = remote.EnsureServerGroup("shard-99", 2, "");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no server group shard-99"), std::string::npos) << s.message();
}

TEST(RemotePlatformTest, SaysWhenNoSupervisorAnswers) {
  RemotePlatform remote("/tmp/redkube-no-such-dir/control.sock");
  auto groups = remote.ListServerGroups();
  ASSERT_FALSE(groups.ok());
  EXPECT_NE(groups.error().find("supervisor does not answer"), std::string::npos) << groups.error();
}

}  // namespace
}  // namespace redkube::runtime
