// A request with a second step, against a real pair of redis-servers: the
// first step (MIGRATE on the source) hands the key over, the second (the
// command on the importing shard) reads it, in the client's reply order.
#include "proxy/migrating_key_step.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "proxy/backend_pool.h"
#include "proxy/client_backends.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"
#include "redis_server_process.h"

namespace redkube::proxy {
namespace {

using testing::RedisServerProcess;

// A key whose slot is in the first half (shard "a"), different for each n.
std::string KeyOnShardA(int n) {
  for (int i = 0;; ++i) {
    std::string key = fmt::format("key:{}:{}", n, i);
    if (KeySlot(key) < 8192) return key;
  }
}

class MigratingKeyStepTest : public ::testing::Test, public ReplySink, public ReplyQueue::Owner {
 protected:
  void SetUp() override {
    ASSERT_TRUE(source_.WaitReady());
    ASSERT_TRUE(target_.WaitReady());
  }

  // Two shards, "a" on the source and "b" on `target`; slot `moving` (if
  // not negative) migrating from a to b.
  std::shared_ptr<const Topology> TwoShards(int moving, const HostPort& target) {
    std::string migrations =
        moving < 0 ? "[]"
                   : fmt::format(R"([{{"slots": [[{}, {}]], "from": "a", "to": "b"}}])", moving, moving);
    std::string doc = fmt::format(
        R"({{"cluster": "t", "epoch": 1, "shards": [
              {{"id": "a", "master": "{}", "slots": [[0, 8191]]}},
              {{"id": "b", "master": "{}", "slots": [[8192, 16383]]}}],
            "migrations": {}}})",
        source_.address().ToString(), target.ToString(), migrations);
    auto topology = Topology::FromJson(doc);
    EXPECT_TRUE(topology.ok()) << topology.error();
    return topology.ok() ? topology.value() : nullptr;
  }

  // The worker's pieces around one client, for a topology whose slot
  // `moving` migrates from "a" (source) to "b" (target at `target`).
  void Build(uint16_t moving, const HostPort& target) {
    auto topology = Result<std::shared_ptr<const Topology>>(TwoShards(moving, target));
    ASSERT_TRUE(topology.ok()) << topology.error();
    server_ = std::make_unique<ProxyServer>(ProxyOptions{}, topology.value());
    recorder_ = std::make_unique<RequestRecorder>(&loop_, server_->slow_log());
    backends_ = std::make_unique<BackendPool>(&loop_, server_.get(), this);
    context_.loop = &loop_;
    context_.server = server_.get();
    context_.options = &server_->options();
    context_.stats = server_->stats();
    context_.pending_pool = &pool_;
    context_.recorder = recorder_.get();
    context_.backends = backends_.get();
    context_.sink = this;
    context_.own_backend_options = &server_->options().backend;
    context_.router = std::make_shared<const SlotRouter>(topology.value());
    backends_->Apply(*context_.router, ReadableReplicas{});
    replies_ = std::make_unique<ReplyQueue>(&pool_, recorder_.get(), &client_, &output_, this);
    own_ = std::make_unique<ClientBackends>(&context_, &client_, replies_.get());
    ctx_ = std::make_unique<RequestContext>(RequestContext{context_, client_, *replies_, *own_});
    step_ = std::make_unique<MigratingKeyStep>(&context_);
  }

  void TearDown() override {
    if (replies_) replies_->Close();
    own_.reset();
    context_.retired.clear();
  }

  // The request, as the dispatcher sends one of a migrating slot.
  void SendMigrating(std::vector<std::string_view> argv) {
    keys_ = {1};
    step_->Start(*ctx_, KeySlot(argv[1]), argv, keys_, {});
  }
  // The request to the source on the shared connection, as any other.
  void SendToSource(std::vector<std::string_view> argv) {
    AppendRequest(backends_->Master(0)->StartRequest(replies_->Open(1), 0), argv, {});
  }

  // Runs the loop until `count` complete replies are in the output (or 5 s).
  std::vector<std::string> Replies(size_t count) {
    std::vector<std::string> out;
    int64_t deadline = EventLoop::MonotonicMs() + 5000;
    auto check = [&] {
      for (BackendConnection* b : dirty_) b->Flush();
      dirty_.clear();
      out.clear();
      std::string_view rest = output_.view();
      ReplyScanner scanner;
      while (!rest.empty()) {
        int64_t len = scanner.Scan(rest.data(), rest.size());
        if (len <= 0) break;
        out.emplace_back(rest.substr(0, static_cast<size_t>(len)));
        rest.remove_prefix(static_cast<size_t>(len));
        scanner = ReplyScanner();
      }
      if (out.size() >= count || EventLoop::MonotonicMs() > deadline) loop_.Stop();
    };
    loop_.SetBeforeSleep(check);
    loop_.SetTick(20, [&] {
      backends_->Tick();
      check();
    });
    loop_.Run();
    return out;
  }

  // ReplySink, as the worker's.
  void OnBackendReply(PendingReply* pending, uint32_t part, std::string_view reply) override {
    DeliverReply(pending, part, reply, &pool_);
  }
  void MarkBackendDirty(BackendConnection* backend) override { dirty_.push_back(backend); }
  // ReplyQueue::Owner
  void OnRepliesWritten() override {}
  void OnClosing() override {}
  void OnFinalReplyWritten() override {}

  RedisServerProcess source_;
  RedisServerProcess target_;
  EventLoop loop_;
  PendingReplyPool pool_;
  std::unique_ptr<ProxyServer> server_;
  std::unique_ptr<RequestRecorder> recorder_;
  std::unique_ptr<BackendPool> backends_;
  WorkerContext context_;
  ClientState client_;
  Buffer output_;
  std::unique_ptr<ReplyQueue> replies_;
  std::unique_ptr<ClientBackends> own_;
  std::unique_ptr<RequestContext> ctx_;
  std::unique_ptr<MigratingKeyStep> step_;
  std::vector<BackendConnection*> dirty_;
  std::vector<uint32_t> keys_;
};

TEST_F(MigratingKeyStepTest, TheFirstStepMovesTheKeyAndTheSecondReadsItOnTheTarget) {
  const std::string key = KeyOnShardA(1);
  ASSERT_TRUE(source_.Command({"SET", key, "v1"}).IsOk());
  Build(KeySlot(key), target_.address());
  SendMigrating({"GET", key});
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], "$2\r\nv1\r\n");
  // Moved, not copied: the key lives on the target alone.
  EXPECT_EQ(source_.Command({"EXISTS", key}).integer, 0);
  EXPECT_EQ(target_.Command({"GET", key}).str, "v1");
}

TEST_F(MigratingKeyStepTest, AWriteToAKeyNotOnTheSourceLandsOnTheTarget) {
  const std::string key = KeyOnShardA(2);
  Build(KeySlot(key), target_.address());
  SendMigrating({"SET", key, "new"});  // the source answers +NOKEY: nothing to hand over
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], "+OK\r\n");
  EXPECT_EQ(source_.Command({"EXISTS", key}).integer, 0);
  EXPECT_EQ(target_.Command({"GET", key}).str, "new");
}

TEST_F(MigratingKeyStepTest, AKeyTheTargetAlreadyHoldsIsTheOneThatCounts) {
  // Both hold the key (a move copied it, then the source's copy came back
  // with a failover): the target's value wins, the source's is not copied
  // over it, and the command runs on the target.
  const std::string key = KeyOnShardA(7);
  ASSERT_TRUE(source_.Command({"SET", key, "stale"}).IsOk());
  ASSERT_TRUE(target_.Command({"SET", key, "current"}).IsOk());
  Build(KeySlot(key), target_.address());
  SendMigrating({"APPEND", key, "+1"});
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], ":9\r\n");  // "current+1"
  EXPECT_EQ(target_.Command({"GET", key}).str, "current+1");
  // The stale copy is left for the mover to delete, untouched.
  EXPECT_EQ(source_.Command({"GET", key}).str, "stale");
}

TEST_F(MigratingKeyStepTest, WithOneKeyAlreadyOnTheTargetTheOthersStillMove) {
  const std::string busy = "{" + KeyOnShardA(8) + "}busy";
  const std::string moving = "{" + KeyOnShardA(8) + "}moving";
  ASSERT_TRUE(source_.Command({"SET", busy, "stale"}).IsOk());
  ASSERT_TRUE(target_.Command({"SET", busy, "current"}).IsOk());
  ASSERT_TRUE(source_.Command({"SET", moving, "m"}).IsOk());
  Build(KeySlot(busy), target_.address());
  std::vector<std::string_view> argv = {"MGET", busy, moving};
  keys_ = {1, 2};
  step_->Start(*ctx_, KeySlot(busy), argv, keys_, {});
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0], "*2\r\n$7\r\ncurrent\r\n$1\r\nm\r\n");
  EXPECT_EQ(source_.Command({"EXISTS", moving}).integer, 0);  // moved, not copied
  EXPECT_EQ(target_.Command({"GET", moving}).str, "m");
}

TEST_F(MigratingKeyStepTest, TheHandOverNeverReplaces) {
  Buffer out;
  std::vector<std::string_view> argv = {"GET", "k"};
  std::vector<uint32_t> keys = {1};
  MigratingKeyStep::AppendMigrate(&out, HostPort{"10.0.0.1", 6379}, "pw", 500, argv, keys);
  EXPECT_EQ(out.view(),
            "*10\r\n$7\r\nMIGRATE\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n$0\r\n\r\n$1\r\n0\r\n$3\r\n500\r\n"
            "$4\r\nAUTH\r\n$2\r\npw\r\n$4\r\nKEYS\r\n$1\r\nk\r\n");
  EXPECT_TRUE(MigratingKeyStep::IsBusyKey(
      "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"));
  EXPECT_FALSE(MigratingKeyStep::IsBusyKey("-IOERR error or timeout reading to target instance\r\n"));
}

TEST_F(MigratingKeyStepTest, RepliesKeepTheClientsOrderAroundATwoStepRequest) {
  const std::string moving = KeyOnShardA(3);
  ASSERT_TRUE(source_.Command({"SET", moving, "m"}).IsOk());
  ASSERT_TRUE(source_.Command({"SET", "other", "o"}).IsOk());
  Build(KeySlot(moving), target_.address());
  SendToSource({"ECHO", "before"});
  SendMigrating({"GET", moving});
  SendToSource({"ECHO", "after"});  // answered before the second step's reply arrives
  auto replies = Replies(3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0], "$6\r\nbefore\r\n");
  EXPECT_EQ(replies[1], "$1\r\nm\r\n");
  EXPECT_EQ(replies[2], "$5\r\nafter\r\n");
}

TEST_F(MigratingKeyStepTest, AFailedHandOverAnswersTryagainAndLeavesTheKeyOnTheSource) {
  const std::string key = KeyOnShardA(4);
  ASSERT_TRUE(source_.Command({"SET", key, "stays"}).IsOk());
  HostPort nowhere{"127.0.0.1", testing::FreePort()};  // nothing listens: MIGRATE fails
  Build(KeySlot(key), nowhere);
  SendMigrating({"SET", key, "lost?"});
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].starts_with("-TRYAGAIN slot " + std::to_string(KeySlot(key)) + " is moving"))
      << replies[0];
  // The write did not run anywhere: the source's value is intact.
  EXPECT_EQ(source_.Command({"GET", key}).str, "stays");
}

TEST_F(MigratingKeyStepTest, AMigrationCancelledBetweenTheStepsAnswersTryagainInsteadOfForkingTheKey) {
  const std::string key = KeyOnShardA(6);
  ASSERT_TRUE(source_.Command({"SET", key, "v"}).IsOk());
  Build(KeySlot(key), target_.address());
  SendMigrating({"SET", key, "w"});
  // Before MIGRATE answers, the migration is called off: the slot is the
  // source's alone again, while the key is on its way to the target.
  context_.router = std::make_shared<const SlotRouter>(TwoShards(-1, target_.address()));
  auto replies = Replies(1);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].starts_with("-TRYAGAIN slot " + std::to_string(KeySlot(key)) + " changed hands"))
      << replies[0];
  // The write ran nowhere; the key is whole on one side (the target), not on both.
  EXPECT_EQ(source_.Command({"EXISTS", key}).integer, 0);
  EXPECT_EQ(target_.Command({"GET", key}).str, "v");
}

TEST_F(MigratingKeyStepTest, AClientThatLeavesBetweenTheStepsFreesItsSlot) {
  const std::string key = KeyOnShardA(5);
  ASSERT_TRUE(source_.Command({"SET", key, "v"}).IsOk());
  Build(KeySlot(key), target_.address());
  SendMigrating({"GET", key});
  replies_->Close();  // the client goes before MIGRATE answers
  // Run until the source has answered: the orphaned slot is freed there,
  // and the second step never runs (the key was moved; nothing reads it).
  int64_t deadline = EventLoop::MonotonicMs() + 5000;
  loop_.SetBeforeSleep([&] {
    for (BackendConnection* b : dirty_) b->Flush();
    dirty_.clear();
    if (backends_->Master(0)->idle() || EventLoop::MonotonicMs() > deadline) loop_.Stop();
  });
  loop_.Run();
  EXPECT_TRUE(backends_->Master(0)->idle());
  EXPECT_TRUE(backends_->Master(1)->idle());  // no second step was sent
  EXPECT_EQ(target_.Command({"GET", key}).str, "v");
}

}  // namespace
}  // namespace redkube::proxy
