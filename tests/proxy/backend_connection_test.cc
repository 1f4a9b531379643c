// BackendConnection's fence against a real redis-server: what was owed fails
// at once with the reason, nothing is sent or reconnected while fenced, and
// Unfence reconnects.
#include "proxy/backend_connection.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/strings.h"
#include "proxy/request_bytes.h"
#include "redis_server_process.h"

namespace redkube::proxy {
namespace {

using testing::RedisServerProcess;

class FenceTest : public ::testing::Test, public ReplySink {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.WaitReady());
    options_.reply_timeout_ms = 0;  // BLPOP 0 owes its reply for ever
    options_.retry_min_ms = 10;
    options_.retry_max_ms = 20;
    backend_ = std::make_unique<BackendConnection>(&loop_, server_.address(), &options_, this);
  }

  // A request whose reply is recorded under `tag`.
  void Send(int tag, std::vector<std::string_view> argv) {
    AppendRequest(backend_->StartRequest(Tag(tag), 0), argv, {});
  }
  // Distinct addresses that stand for requests (never dereferenced: the
  // sink below only maps them back to their tag).
  PendingReply* Tag(int tag) { return reinterpret_cast<PendingReply*>(&tag_bytes_[tag]); }
  int TagOf(const PendingReply* pending) const {
    return static_cast<int>(reinterpret_cast<const char*>(pending) - tag_bytes_.data());
  }
  std::array<char, 256> tag_bytes_{};

  // Runs the loop until `done` holds (or 5 s); returns whether it did.
  bool RunUntil(const std::function<bool()>& done) {
    const int64_t deadline = EventLoop::MonotonicMs() + 5000;
    bool held = false;
    auto check = [&] {
      for (BackendConnection* b : dirty_) b->Flush();
      dirty_.clear();
      held = done();
      if (held || EventLoop::MonotonicMs() > deadline) loop_.Stop();
    };
    loop_.SetBeforeSleep(check);
    loop_.SetTick(10, [&] {
      backend_->Tick();
      check();
    });
    loop_.Run();
    return held;
  }

  // Clients connected to the server, by its own count (this one included).
  int64_t ServerClients() {
    return ParseInt64(InfoField(server_.Command({"INFO", "clients"}).str, "connected_clients")).value_or(-1);
  }

  void OnBackendReply(PendingReply* pending, uint32_t, std::string_view reply) override {
    replies_[TagOf(pending)] = std::string(reply);
  }
  void MarkBackendDirty(BackendConnection* backend) override { dirty_.push_back(backend); }

  RedisServerProcess server_;
  EventLoop loop_;
  BackendOptions options_;
  std::unique_ptr<BackendConnection> backend_;
  std::vector<BackendConnection*> dirty_;
  std::map<int, std::string> replies_;
};

TEST_F(FenceTest, FailsWhatIsOwedAtOnceAndSendsNothingUntilUnfenced) {
  Send(1, {"PING"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(1) > 0; }));
  EXPECT_EQ(replies_[1], "+PONG\r\n");
  const int64_t before = ServerClients();  // the backend's connection and the test's

  Send(2, {"BLPOP", "fence:list", "0"});  // blocks on the server
  ASSERT_TRUE(RunUntil([&] {
    return InfoField(server_.Command({"INFO", "clients"}).str, "blocked_clients") == "1";
  }));
  backend_->Fence("shard s1 is failing over");
  EXPECT_TRUE(backend_->fenced());
  // Answered inside Fence(), before any loop iteration.
  ASSERT_EQ(replies_.count(2), 1u);
  EXPECT_EQ(replies_[2], "-TRYAGAIN backend " + server_.address().ToString() +
                             " unavailable: shard s1 is failing over\r\n");
  EXPECT_FALSE(backend_->connected());

  // New requests fail at once, and nothing reconnects (the retry delay is
  // 10 ms: 300 ms of ticks would have reconnected many times).
  Send(3, {"SET", "fence:k", "v"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(3) > 0; }));
  EXPECT_EQ(replies_[3], replies_[2]);
  const int64_t until = EventLoop::MonotonicMs() + 300;
  RunUntil([&] { return EventLoop::MonotonicMs() >= until; });
  EXPECT_FALSE(backend_->connected());
  EXPECT_EQ(ServerClients(), before - 1);                        // only the test's own connection
  EXPECT_EQ(server_.Command({"EXISTS", "fence:k"}).integer, 0);  // the SET was never sent

  backend_->Fence("again");  // no change
  backend_->Unfence();
  EXPECT_FALSE(backend_->fenced());
  ASSERT_TRUE(RunUntil([&] { return backend_->connected(); }));
  Send(4, {"SET", "fence:k", "v"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(4) > 0; }));
  EXPECT_EQ(replies_[4], "+OK\r\n");
  EXPECT_EQ(server_.Command({"GET", "fence:k"}).str, "v");
}

TEST_F(FenceTest, FencedBeforeEverConnectingNeverConnects) {
  backend_->Fence("shard s2 is failing over");
  Send(1, {"PING"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(1) > 0; }));
  EXPECT_NE(replies_[1].find("-TRYAGAIN"), std::string::npos);
  EXPECT_NE(replies_[1].find("shard s2 is failing over"), std::string::npos);
  EXPECT_FALSE(backend_->connected());
  backend_->Unfence();
  Send(2, {"PING"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(2) > 0; }));
  EXPECT_EQ(replies_[2], "+PONG\r\n");
}

// learn_server_client_id: the id is the one the server gives this
// connection (its CLIENT ID, the request's own reply untouched), learned
// again on a new session.
TEST_F(FenceTest, LearnsTheServersIdOfTheConnectionOnEverySession) {
  options_.learn_server_client_id = true;
  EXPECT_EQ(backend_->server_client_id(), -1);
  Send(1, {"CLIENT", "ID"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(1) > 0; }));
  EXPECT_EQ(replies_[1], ":" + std::to_string(backend_->server_client_id()) + "\r\n");
  const int64_t first = backend_->server_client_id();
  EXPECT_GT(first, 0);
  const uint64_t replies_before = backend_->replies_read();

  backend_->Fence("reconnect");
  EXPECT_EQ(backend_->replies_read(), replies_before);  // failed requests are not replies read
  backend_->Unfence();
  Send(2, {"CLIENT", "ID"});
  ASSERT_TRUE(RunUntil([&] { return replies_.count(2) > 0; }));
  EXPECT_GT(backend_->server_client_id(), first);
  EXPECT_EQ(replies_[2], ":" + std::to_string(backend_->server_client_id()) + "\r\n");
  EXPECT_EQ(backend_->replies_read(), replies_before + 2);  // this session's CLIENT ID and request 2
}

}  // namespace
}  // namespace redkube::proxy
