// ProcessSupervisor against real child processes (/bin/sh, sleep).
#include "runtime/local/process_supervisor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace redkube::runtime {
namespace {

using namespace std::chrono_literals;

class ProcessSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/redkube-supervisor-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Log(const std::string& name) { return dir_ + "/" + name + ".log"; }
  static ProcessState StateOf(const ProcessSupervisor& s, const std::string& name) {
    for (const auto& p : s.Snapshot()) {
      if (p.name == name) return p;
    }
    return {};
  }
  // Polls (bounded) until `done` holds.
  static bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }
  std::string dir_;
};

TEST_F(ProcessSupervisorTest, RestartsAKilledChildAndCountsIt) {
  ProcessSupervisor supervisor;
  ASSERT_TRUE(
      supervisor.Start({.name = "sleeper", .argv = {"sleep", "30"}, .log_path = Log("sleeper")}).ok());
  ProcessState first = StateOf(supervisor, "sleeper");
  ASSERT_TRUE(first.running);
  ASSERT_GT(first.pid, 0);
  kill(first.pid, SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    auto s = StateOf(supervisor, "sleeper");
    return s.running && s.restarts == 1 && s.pid != first.pid;
  }));
  EXPECT_EQ(StateOf(supervisor, "sleeper").last_exit, "signal 9");
  pid_t second = StateOf(supervisor, "sleeper").pid;
  supervisor.Stop("sleeper");
  EXPECT_FALSE(supervisor.Has("sleeper"));
  EXPECT_NE(kill(second, 0), 0);  // gone and reaped
}

TEST_F(ProcessSupervisorTest, BeforeRestartChoosesTheNextCommandLine) {
  ProcessSupervisor supervisor;
  std::atomic<int> hooks_before{0}, hooks_after{0};
  std::string marker = dir_ + "/restarted";
  ProcessSpec spec{.name = "flaky", .argv = {"sh", "-c", "exit 3"}, .log_path = Log("flaky")};
  spec.before_restart = [&] {
    ++hooks_before;
    return std::vector<std::string>{"sh", "-c", "echo again > " + marker + "; exec sleep 30"};
  };
  spec.after_restart = [&] { ++hooks_after; };
  ASSERT_TRUE(supervisor.Start(spec).ok());
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(marker) && hooks_after == 1; }));
  EXPECT_EQ(hooks_before, 1);
  auto state = StateOf(supervisor, "flaky");
  EXPECT_TRUE(state.running);
  EXPECT_EQ(state.restarts, 1);
  EXPECT_EQ(state.last_exit, "exit 3");
}

TEST_F(ProcessSupervisorTest, ChildOutputGoesToItsLogAndNoSupervisorFdLeaks) {
  // An fd of the supervisor without O_CLOEXEC (like a socket or lock file a
  // library opened carelessly) must still not reach the child.
  int inheritable = open("/dev/null", O_RDONLY);
  ASSERT_GE(inheritable, 3);
  ProcessSupervisor supervisor;
  ASSERT_TRUE(supervisor
                  .Start({.name = "lister",
                          .argv = {"sh", "-c", "echo hello; ls /proc/self/fd | wc -l; exec sleep 30"},
                          .log_path = Log("lister")})
                  .ok());
  std::string text;
  ASSERT_TRUE(Eventually([&] {
    std::ifstream in(Log("lister"));
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
    return text.find('\n', text.find("hello\n") + 6) != std::string::npos;
  }));
  EXPECT_EQ(text.substr(0, 6), "hello\n");
  // 0, 1, 2 and the fd `ls` opens for /proc/self/fd: nothing inherited.
  EXPECT_EQ(std::stoi(text.substr(6)), 4) << text;
  close(inheritable);
}

TEST_F(ProcessSupervisorTest, ReportsAProgramThatCannotRun) {
  ProcessSupervisor supervisor;
  Status s =
      supervisor.Start({.name = "ghost", .argv = {"/nonexistent/redkube-ghost"}, .log_path = Log("ghost")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot run /nonexistent/redkube-ghost"), std::string::npos) << s.message();
  EXPECT_FALSE(supervisor.Has("ghost"));
}

TEST_F(ProcessSupervisorTest, StopsEverythingAndThenRefusesToStart) {
  ProcessSupervisor supervisor;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(supervisor.Start({.name = name, .argv = {"sleep", "30"}, .log_path = Log(name)}).ok());
  }
  EXPECT_FALSE(supervisor.Start({.name = "a", .argv = {"sleep", "30"}, .log_path = Log("a")}).ok());
  std::vector<pid_t> pids;
  for (const auto& p : supervisor.Snapshot()) pids.push_back(p.pid);
  supervisor.StopAccepting();
  supervisor.StopAll({"a", "b", "c"});
  EXPECT_TRUE(supervisor.Snapshot().empty());
  for (pid_t pid : pids) EXPECT_NE(kill(pid, 0), 0);
  EXPECT_FALSE(supervisor.Start({.name = "d", .argv = {"sleep", "30"}, .log_path = Log("d")}).ok());
}

TEST_F(ProcessSupervisorTest, EscalatesToSigkillWhenSigtermIsIgnored) {
  ProcessSupervisor supervisor;
  std::string ready = dir_ + "/trapped";
  ASSERT_TRUE(
      supervisor
          .Start({.name = "stubborn",
                  .argv = {"sh", "-c", "trap '' TERM; touch " + ready + "; while :; do sleep 1; done"},
                  .log_path = Log("stubborn")})
          .ok());
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(ready); }));
  auto start = std::chrono::steady_clock::now();
  supervisor.Stop("stubborn", 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(supervisor.Has("stubborn"));
}

}  // namespace
}  // namespace redkube::runtime
