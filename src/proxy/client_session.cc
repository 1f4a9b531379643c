#include "proxy/client_session.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/command_dispatcher.h"
#include "proxy/slow_log.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

// A client that has this many replies outstanding is not read from until
// half of them are written: memory stays bounded whatever it pipelines.
constexpr uint32_t kMaxQueuedReplies = 16 * 1024;
// Output beyond this pauses reading too (a pipeliner that does not read).
constexpr size_t kMaxOutputBeforePause = 64 * 1024 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// Buffers kept by an idle connection; larger ones are freed.
constexpr size_t kIdleBufferKeep = 16 * 1024;
// One request's bytes at most (redis-server's client-query-buffer-limit).
constexpr size_t kMaxRequestBytes = size_t{1} << 30;

}  // namespace

ClientSession::ClientSession(Worker* worker, int fd, uint64_t id, std::string peer,
                             std::string local)
    : worker_(worker),
      fd_(fd),
      id_(id),
      peer_(std::move(peer)),
      local_(std::move(local)),
      created_ms_(worker->loop()->now_ms()) {
  authenticated_ = worker->options().password.empty();
  last_read_ms_ = created_ms_;
  worker_->loop()->Add(fd_, EPOLLIN, this);
}

ClientSession::~ClientSession() {
  if (fd_ >= 0) Close();
}

void ClientSession::OnEvent(uint32_t events) {
  if (closed()) return;
  if ((paused_ || stop_reading_) && (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
    // Not reading (waiting for replies, or finishing), and the client has
    // gone. Blocked: as redis-server frees a blocked client whose socket
    // reads EOF, close it now, which also ends its BLPOP or WAIT on the
    // servers. Otherwise it may only have shut down its sending side
    // (`nc -N`): what it sent is answered, and its EOF is read once
    // reading resumes.
    if ((events & (EPOLLERR | EPOLLHUP)) || Blocked()) {
      Close();
      return;
    }
    peer_closed_ = true;
    SetReading(reading_);  // stops watching for the hang-up, which stays set
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ReadInput();
  if (!closed() && (events & EPOLLOUT)) FlushOutput();
}

void ClientSession::ReadInput() {
  if (stop_reading_ || paused_) return;
  ssize_t n;
  if (input_.empty()) {
    // The common case: no partial request pending. Read into the worker's
    // scratch buffer and keep only an incomplete tail, so idle connections
    // hold no buffer at all.
    Buffer* scratch = worker_->read_scratch();
    scratch->Clear();
    scratch->Reserve(kReadChunk * 4);
    n = read(fd_, scratch->write_ptr(), scratch->writable());
    if (n > 0) {
      last_read_ms_ = worker_->loop()->now_ms();
      worker_->stats()->bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      size_t consumed = ProcessInput(scratch->write_ptr(), static_cast<size_t>(n));
      if (!closed() && consumed < static_cast<size_t>(n)) {
        input_.Append(scratch->write_ptr() + consumed, static_cast<size_t>(n) - consumed);
      }
      return;
    }
  } else {
    // Room for the rest of a large argument, but no more than has arrived
    // so far: memory follows the bytes a client sends, not the length it
    // announces (the buffer doubles, so a large value is copied no more).
    input_.Reserve(std::max(std::min(parser_.pending_bulk_bytes(), input_.size()), kReadChunk));
    n = read(fd_, input_.write_ptr(), input_.writable());
    if (n > 0) {
      last_read_ms_ = worker_->loop()->now_ms();
      worker_->stats()->bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      input_.Commit(static_cast<size_t>(n));
      if (input_.size() > kMaxRequestBytes) {
        ProtocolError("request over the query buffer limit (1 GB)");
        return;
      }
      size_t consumed = ProcessInput(input_.data(), input_.size());
      if (!closed()) {
        input_.Consume(consumed);
        input_.ShrinkIfIdle(kIdleBufferKeep);
      }
      return;
    }
  }
  if (n == 0) {
    FinishAfterEof();
  } else if (errno != EAGAIN && errno != EINTR) {
    Close();
  }
}

bool ClientSession::Blocked() const {
  for (const PendingReply* p = head_; p != nullptr; p = p->next) {
    if (p->blocks && !p->done) return true;
  }
  return false;
}

void ClientSession::FinishAfterEof() {
  if (Blocked() || (head_ == nullptr && output_.empty())) {
    Close();
    return;
  }
  peer_closed_ = true;
  StopReading();
  if (head_ == nullptr) {
    close_after_flush_ = true;
  } else {
    tail_->close_after = true;  // replies owed on shared connections: bounded by their reply timeout
  }
  MarkDirty();
}

size_t ClientSession::ProcessInput(const char* data, size_t size) {
  size_t offset = 0;
  CommandDispatcher* dispatcher = worker_->dispatcher();
  uint64_t commands = 0;
  while (offset < size && !closed() && !stop_reading_) {
    if (queued_ >= kMaxQueuedReplies || output_.size() >= kMaxOutputBeforePause) {
      paused_ = true;
      SetReading(false);
      break;
    }
    size_t consumed = 0;
    auto result = parser_.Parse(data + offset, size - offset, &consumed);
    if (result == RequestParser::Result::kNeedMore) break;
    if (result == RequestParser::Result::kError) {
      ProtocolError(parser_.error());
      break;
    }
    if (result == RequestParser::Result::kComplete) {
      std::string_view raw =
          parser_.multibulk() ? std::string_view(data + offset, consumed) : std::string_view();
      auto order = dispatcher->Dispatch(this, parser_.args(), raw);
      current_command_ = -1;
      current_argv_ = {};
      if (order == CommandDispatcher::Order::kRetryAfterReplies) {
        // Parsed again from the same bytes once the replies are in.
        AwaitReplies();
        break;
      }
      ++commands;
      if (order == CommandDispatcher::Order::kHoldUntilReplied && head_ != nullptr) {
        offset += consumed;
        AwaitReplies();
        break;
      }
    }
    offset += consumed;
  }
  if (commands) worker_->stats()->total_commands.fetch_add(commands, std::memory_order_relaxed);
  MarkDirty();
  return offset;
}

void ClientSession::AwaitReplies() {
  awaiting_replies_ = true;
  paused_ = true;
  SetReading(false);
}

void ClientSession::ProtocolError(const std::string& message) {
  worker_->stats()->protocol_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("client {} ({}) closed: {}", id_, peer_, message);
  ReplyAndClose("-ERR " + message + "\r\n");
}

PendingReply* ClientSession::NewPending() {
  PendingReply* p = worker_->pending_pool()->Get();
  p->client = this;
  if (tail_) {
    tail_->next = p;
  } else {
    head_ = p;
  }
  tail_ = p;
  ++queued_;
  if (current_command_ >= 0) {
    p->command = static_cast<uint16_t>(current_command_ + 1);
    p->start_us = worker_->loop()->now_us();
    if (worker_->slow_log_enabled()) SlowLogArgs::Capture(current_argv_, &p->slowlog_args);
  }
  return p;
}

void ClientSession::Reply(std::string_view resp) {
  if (current_command_ >= 0 && !resp.empty() && resp[0] == '-') {
    BumpSingleWriter(worker_->command_stats()[static_cast<uint16_t>(current_command_)].failed, 1);
  }
  if (head_ == nullptr) {
    output_.Append(resp);
    return;
  }
  PendingReply* p = NewPending();
  p->command = 0;  // counted above; no server latency to record
  p->data.assign(resp);
  p->done = true;
}

void ClientSession::ReplyAndClose(std::string_view resp) {
  stop_reading_ = true;
  SetReading(false);
  if (head_ == nullptr) {
    output_.Append(resp);
    close_after_flush_ = true;
  } else {
    PendingReply* p = NewPending();
    p->data.assign(resp);
    p->done = true;
    p->close_after = true;
  }
  MarkDirty();
}

void ClientSession::AppendOutput(std::string_view bytes) {
  output_.Append(bytes);
  MarkDirty();
}

void ClientSession::DrainDoneReplies() {
  PendingReplyPool* pool = worker_->pending_pool();
  while (head_ != nullptr && head_->done) {
    PendingReply* p = head_;
    if (p->command != 0) worker_->RecordReply(*p, p->data);
    output_.Append(p->data);
    if (p->close_after) close_after_flush_ = true;
    head_ = p->next;
    if (head_ == nullptr) tail_ = nullptr;
    --queued_;
    pool->Put(p);
  }
  if (paused_ && (awaiting_replies_ ? head_ == nullptr : queued_ < kMaxQueuedReplies / 2)) {
    worker_->MarkClientResumable(this);
  }
  MarkDirty();
}

void ClientSession::MarkDirty() {
  if (!dirty_ && !closed()) {
    dirty_ = true;
    worker_->MarkClientDirty(this);
  }
}

void ClientSession::FlushOutput() {
  dirty_ = false;
  if (closed()) return;
  while (!output_.empty()) {
    ssize_t n = write(fd_, output_.data(), output_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      Close();
      return;
    }
    output_.Consume(static_cast<size_t>(n));
    worker_->stats()->bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  const ProxyOptions& options = worker_->options();
  size_t limit = subscriptions_.active() ? options.pubsub_output_limit_bytes : options.output_limit_bytes;
  if (limit > 0 && output_.size() > limit) {
    // A client that does not read its replies (a stalled subscriber, a
    // pipeliner that never reads) must not make the proxy's memory grow.
    spdlog::warn("client {} ({}) closed: {} bytes of replies unread, over the {} byte limit{}", id_, peer_,
                 output_.size(), limit, subscriptions_.active() ? " for subscribers" : "");
    worker_->stats()->output_limit_disconnects.fetch_add(1, std::memory_order_relaxed);
    Close();
    return;
  }
  if (output_.empty()) {
    output_.ShrinkIfIdle(kIdleBufferKeep);
    if (close_after_flush_) {
      Close();
      return;
    }
    if (paused_ && queued_ < kMaxQueuedReplies / 2) worker_->MarkClientResumable(this);
  }
  bool want = !output_.empty();
  if (want != want_write_) {
    want_write_ = want;
    SetReading(reading_);
  }
}

void ClientSession::ResumeInput() {
  if (closed() || !paused_ || stop_reading_) return;
  if (queued_ >= kMaxQueuedReplies / 2 || output_.size() >= kMaxOutputBeforePause / 2) return;
  if (awaiting_replies_ && head_ != nullptr) return;
  awaiting_replies_ = false;
  paused_ = false;
  SetReading(true);
  if (!input_.empty()) {
    size_t consumed = ProcessInput(input_.data(), input_.size());
    if (!closed()) input_.Consume(consumed);
  }
}

void ClientSession::StopReading() {
  stop_reading_ = true;
  SetReading(false);
}

void ClientSession::SetReading(bool reading) {
  if (closed()) return;
  reading_ = reading;
  // While not reading, a hang-up is still watched for (EPOLLRDHUP), so that
  // a client that leaves while blocked is not kept.
  uint32_t hangup = peer_closed_ ? 0u : uint32_t{EPOLLRDHUP};
  uint32_t events = (reading_ ? uint32_t{EPOLLIN} : hangup) | (want_write_ ? uint32_t{EPOLLOUT} : 0u);
  worker_->loop()->Modify(fd_, events, this);
}

BackendConnection* ClientSession::OwnBackend(int shard) {
  const Shard& owner = worker_->topology().shards()[shard];
  for (auto& own : own_backends_) {
    if (own.backend->address() == owner.master) return own.backend.get();
  }
  if (own_backends_.empty()) worker_->TrackBlockingClient(this);
  own_backends_.push_back({std::make_unique<BackendConnection>(worker_->loop(), owner.master,
                                                               worker_->blocking_backend_options(), worker_),
                           owner.id});
  return own_backends_.back().backend.get();
}

void ClientSession::TickOwnBackends() {
  // Ticking may fail a connection, which reports lost subscriptions: they
  // are restored after the loop, which may add and remove connections.
  for (auto& own : own_backends_) own.backend->Tick();
  if (topology_checked_at_ != worker_->topology_generation()) {
    topology_checked_at_ = worker_->topology_generation();
    LeaveFormerMasters();
  }
  if (!lost_subscriptions_.empty()) RestoreLostSubscriptions();
}

void ClientSession::OnSubscriptionsLost(BackendConnection* backend) {
  for (const auto& own : own_backends_) {
    if (own.backend.get() == backend) {
      lost_subscriptions_.try_emplace(own.shard_id);
      return;
    }
  }
}

const Shard* ClientSession::ShardById(const std::string& id) const {
  for (const Shard& shard : worker_->topology().shards()) {
    if (shard.id == id) return &shard;
  }
  return nullptr;
}

// Whether `backend` leads to what is no longer `shard`'s master (or the
// shard left the topology).
static bool OffMaster(const BackendConnection* backend, const Shard* shard) {
  return shard == nullptr || backend->address() != shard->master;
}

void ClientSession::LeaveFormerMasters() {
  // What the client holds on a server that is no longer its shard's master
  // moves on. Subscriptions: a server demoted by a switchover still delivers
  // its shard's messages (PUBLISH replicates), but UNSUBSCRIBE would now go
  // to the new master and miss it, so they are made again there. Requests:
  // own connections have no reply timeout (BLPOP 0 waits for ever), so one
  // owed by a server that a failover left behind (frozen, cut off: nothing
  // closes the connection) would never be answered; it is ended, as
  // redis-server ends blocked commands on a master turned replica, and the
  // client retries on the new master.
  std::vector<BackendConnection*> stale;
  for (const auto& own : own_backends_) {
    BackendConnection* b = own.backend.get();
    if (b->subscriptions() == 0 && b->in_flight() == 0) continue;  // holds nothing
    if (!OffMaster(b, ShardById(own.shard_id))) continue;
    if (b->push_owner() == this) {
      lost_subscriptions_.try_emplace(own.shard_id);
    } else {
      stale.push_back(b);
    }
  }
  for (BackendConnection* b : stale) RetireOwnBackend(b, "no longer its shard's master");
}

void ClientSession::RestoreLostSubscriptions() {
  static constexpr int kRetryMinMs = 100;
  static constexpr int kRetryMaxMs = 1000;
  if (stop_reading_) {  // closing (QUIT, an error, shutdown): nothing to restore
    lost_subscriptions_.clear();
    return;
  }
  const Topology& topology = worker_->topology();
  const int64_t now = worker_->loop()->now_ms();
  for (auto it = lost_subscriptions_.begin(); it != lost_subscriptions_.end();) {
    const std::string& shard_id = it->first;
    LostSubscriptions& lost = it->second;
    const Shard* shard = ShardById(shard_id);
    if (lost.restoring != nullptr) {
      BackendConnection* b = lost.restoring;
      if (OffMaster(b, shard)) {
        // The topology moved on while they were being made there (a
        // failover of the new master, or one that stalls): start over, on
        // the master of the moment.
        lost.restoring = nullptr;
      } else if (b->failing()) {
        lost.restoring = nullptr;  // it reconnects by itself; sent again then
      } else if (b->connected() && b->in_flight() == 0) {
        if (b->subscriptions() > 0) {
          worker_->stats()->subscriptions_restored.fetch_add(1, std::memory_order_relaxed);
          it = lost_subscriptions_.erase(it);
          continue;
        }
        // Answered with errors (-BUSY, -LOADING...): try again later.
        lost.restoring = nullptr;
        lost.retry_delay_ms = std::min(std::max(lost.retry_delay_ms * 2, kRetryMinMs), kRetryMaxMs);
        lost.next_attempt_ms = now + lost.retry_delay_ms;
      }
    }
    if (lost.restoring != nullptr || now < lost.next_attempt_ms) {
      ++it;
      continue;
    }
    if (shard == nullptr) {
      // Its slots went to other shards (not a failover): the client is told,
      // as its library then subscribes to everything again.
      std::string message = "-ERR pub/sub shard " + shard_id + " left the topology; subscribe again\r\n";
      lost_subscriptions_.clear();
      ReplyAndClose(message);
      return;
    }
    // This shard's subscribed connections to a server that is not its master
    // any more go: the subscriptions are made again, all on one connection
    // to the master, so each message comes once.
    std::vector<BackendConnection*> stale;
    for (const auto& own : own_backends_) {
      BackendConnection* b = own.backend.get();
      if (own.shard_id == shard_id && b->push_owner() == this && OffMaster(b, shard)) stale.push_back(b);
    }
    for (BackendConnection* b : stale) RetireOwnBackend(b);
    int index = static_cast<int>(shard - topology.shards().data());
    BackendConnection* backend = OwnBackend(index);
    backend->set_push_owner(this);
    if (backend->failing()) {  // down: it reconnects with its own backoff, then
      ++it;
      continue;
    }
    if (worker_->dispatcher()->subscription_router()->Resubscribe(this, index, backend) == 0) {
      it = lost_subscriptions_.erase(it);  // nothing of the client's lives there any more
      continue;
    }
    lost.restoring = backend;
    ++it;
  }
}

void ClientSession::RetireOwnBackend(BackendConnection* backend, const std::string& why) {
  auto it = std::find_if(own_backends_.begin(), own_backends_.end(),
                         [&](const OwnConnection& own) { return own.backend.get() == backend; });
  if (it == own_backends_.end()) return;
  for (auto& [id, lost] : lost_subscriptions_) {
    if (lost.restoring == backend) lost.restoring = nullptr;
  }
  backend->set_push_owner(nullptr);  // its failure is no news
  backend->Abandon(why);
  worker_->Retire(std::move(it->backend));
  own_backends_.erase(it);
}

bool ClientSession::IdleLongerThan(int64_t ms) const {
  if (subscriptions_.active() || !Idle()) return false;
  for (const auto& own : own_backends_) {
    if (own.backend->in_flight() > 0) return false;  // blocked (BLPOP...): not idle
  }
  return worker_->loop()->now_ms() - last_read_ms_ > ms;
}

BackendConnection* ClientSession::FindOwnBackend(const std::string& master) {
  for (auto& own : own_backends_) {
    if (own.backend->name() == master) return own.backend.get();
  }
  return nullptr;
}

void ClientSession::DropOwnBackends() {
  // Closing them unblocks, unwatches and unsubscribes on the servers too.
  for (auto& own : own_backends_) {
    own.backend->set_push_owner(nullptr);
    own.backend->Abandon();
    worker_->Retire(std::move(own.backend));
  }
  own_backends_.clear();
  lost_subscriptions_.clear();
  subscriptions_ = ClientSubscriptions();
}

void ClientSession::Close() {
  if (closed()) return;
  worker_->loop()->Remove(fd_);
  close(fd_);
  fd_ = -1;
  // Replies still owed by backends stay alive until they arrive, orphaned.
  PendingReplyPool* pool = worker_->pending_pool();
  for (PendingReply* p = head_; p != nullptr;) {
    PendingReply* next = p->next;
    p->client = nullptr;
    p->next = nullptr;
    if (p->outstanding == 0) pool->Put(p);
    p = next;
  }
  head_ = tail_ = nullptr;
  queued_ = 0;
  DropOwnBackends();
  worker_->OnClientClosed(this);
}

}  // namespace redkube::proxy
