#include "runtime/local/cluster_directory.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace redkube::runtime {
namespace {

class ClusterDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/redkube-dir-XXXXXX";
    base_ = mkdtemp(tmpl);
    LocalClusterSpec spec;
    spec.port = 21380;
    layout_.emplace(LocalLayout::Make(spec, base_).value());
    ASSERT_TRUE(MakeClusterDirs(*layout_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(base_); }
  std::string base_;
  std::optional<LocalLayout> layout_;
};

TEST_F(ClusterDirectoryTest, SecretIsGeneratedOncePrivateAndKept) {
  auto first = EnsureSecretFile(layout_->PasswordFile());
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->size(), 24u);
  struct stat st;
  ASSERT_EQ(stat(layout_->PasswordFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto again = EnsureSecretFile(layout_->PasswordFile());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), first.value());
  auto token = EnsureSecretFile(layout_->TokenFile());
  EXPECT_NE(token.value(), first.value());
}

TEST_F(ClusterDirectoryTest, SpecIsSavedAndLoaded) {
  auto none = LoadClusterSpec(base_, "demo");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
  ASSERT_TRUE(SaveClusterSpec(*layout_).ok());
  auto loaded = LoadClusterSpec(base_, "demo");
  ASSERT_TRUE(loaded.ok() && loaded.value().has_value());
  EXPECT_EQ(loaded.value()->port, 21380);
}

TEST_F(ClusterDirectoryTest, ACopiedClusterDirectoryIsNotTakenForAnother) {
  ASSERT_TRUE(SaveClusterSpec(*layout_).ok());
  std::filesystem::create_directories(base_ + "/backup");
  std::filesystem::copy_file(layout_->SpecFile(), base_ + "/backup/cluster.json");
  auto loaded = LoadClusterSpec(base_, "backup");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("describes cluster \"demo\", not \"backup\""), std::string::npos)
      << loaded.error();
}

TEST_F(ClusterDirectoryTest, ProcessStartTimeNamesALiveProcessOnly) {
  EXPECT_GT(ProcessStartTime(getpid()), 0u);
  EXPECT_EQ(ProcessStartTime(getpid()), ProcessStartTime(getpid()));
  EXPECT_EQ(ProcessStartTime(0), 0u);
  EXPECT_EQ(ProcessStartTime(4194304 + 1), 0u);  // above pid_max
}

TEST_F(ClusterDirectoryTest, SecondSupervisorIsRefusedWhileTheFirstHoldsTheLock) {
  EXPECT_FALSE(RunningSupervisor(*layout_).has_value());
  {
    auto lock = SupervisorLock::Acquire(*layout_);
    ASSERT_TRUE(lock.ok()) << lock.error();
    ASSERT_TRUE(lock->WritePid(*layout_).ok());
    EXPECT_EQ(RunningSupervisor(*layout_), getpid());
    auto second = SupervisorLock::Acquire(*layout_);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().find("already running (supervisor pid " + std::to_string(getpid())),
              std::string::npos)
        << second.error();
  }
  EXPECT_FALSE(RunningSupervisor(*layout_).has_value());
  EXPECT_TRUE(SupervisorLock::Acquire(*layout_).ok());
}

TEST_F(ClusterDirectoryTest, FindsAPortSomethingListensOn) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(layout_->ConfigServerPort(1)));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  EXPECT_EQ(PortInUse(*layout_), layout_->ConfigServerPort(1));
  close(fd);
  EXPECT_EQ(PortInUse(*layout_), std::nullopt);
}

}  // namespace
}  // namespace redkube::runtime
