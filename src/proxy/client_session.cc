#include "proxy/client_session.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/proxy_options.h"
#include "proxy/proxy_stats.h"
#include "proxy/reply_mode.h"

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

ClientSession::ClientSession(WorkerContext* worker, RequestHandler* handler, int fd, uint64_t id,
                             std::string peer, std::string local)
    : worker_(worker),
      handler_(handler),
      replies_(worker->pending_pool, worker->recorder, &state_, &output_, this),
      own_(worker, &state_, &replies_),
      ctx_{*worker, state_, replies_, own_} {
  state_.id = id;
  state_.peer = std::move(peer);
  state_.local = std::move(local);
  state_.fd = fd;
  state_.created_ms = worker->loop->now_ms();
  state_.last_read_ms = state_.created_ms;
  state_.authenticated = worker->options->password.empty();
  worker_->loop->Add(fd, EPOLLIN, this);
}

ClientSession::~ClientSession() {
  if (!closed()) Close();
}

void ClientSession::OnEvent(uint32_t events) {
  if (closed()) return;
  if ((paused_ || state_.closing) && (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
    // Not reading (waiting for replies, or finishing), and the client has
    // gone. Blocked: as redis-server frees a blocked client whose socket
    // reads EOF, close it now, which also ends its BLPOP or WAIT on the
    // servers. Otherwise it may only have shut down its sending side
    // (`nc -N`): what it sent is answered, and its EOF is read once
    // reading resumes.
    if ((events & (EPOLLERR | EPOLLHUP)) || replies_.Blocked()) {
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
  if (state_.closing || paused_) return;
  ssize_t n;
  if (input_.empty()) {
    // The common case: no partial request pending. Read into the worker's
    // scratch buffer and keep only an incomplete tail, so idle connections
    // hold no buffer at all.
    Buffer* scratch = &worker_->read_scratch;
    scratch->Clear();
    scratch->Reserve(kReadChunk * 4);
    n = read(state_.fd, scratch->write_ptr(), scratch->writable());
    if (n > 0) {
      state_.last_read_ms = worker_->loop->now_ms();
      worker_->stats->bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
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
    n = read(state_.fd, input_.write_ptr(), input_.writable());
    if (n > 0) {
      state_.last_read_ms = worker_->loop->now_ms();
      worker_->stats->bytes_in.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
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

void ClientSession::FinishAfterEof() {
  if (replies_.Blocked() || (replies_.empty() && output_.empty())) {
    Close();
    return;
  }
  peer_closed_ = true;
  StopReading();
  if (!replies_.CloseAfterLast()) close_after_flush_ = true;
  MarkDirty();
}

size_t ClientSession::ProcessInput(const char* data, size_t size) {
  size_t offset = 0;
  uint64_t commands = 0;
  while (offset < size && !closed() && !state_.closing) {
    if (replies_.size() >= kMaxQueuedReplies || output_.size() >= kMaxOutputBeforePause) {
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
      // CLIENT REPLY OFF/SKIP: the one test replies-on clients pay.
      DispatchOrder order = state_.reply_mode == 0
                                ? handler_->Handle(ctx_, parser_.args(), raw)
                                : HandleUnderReplyMode(*handler_, ctx_, parser_.args(), raw);
      if (order == DispatchOrder::kRetryAfterReplies) {
        // Parsed again from the same bytes once the replies are in.
        AwaitReplies();
        break;
      }
      if (order == DispatchOrder::kWaitForTopology) {
        // Parsed again from the same bytes once the worker wakes it.
        Park();
        break;
      }
      ++commands;
      if (order == DispatchOrder::kHoldUntilReplied && !replies_.empty()) {
        offset += consumed;
        AwaitReplies();
        break;
      }
    }
    offset += consumed;
  }
  if (commands) worker_->stats->total_commands.fetch_add(commands, std::memory_order_relaxed);
  MarkDirty();
  return offset;
}

void ClientSession::AwaitReplies() {
  awaiting_replies_ = true;
  paused_ = true;
  SetReading(false);
}

void ClientSession::Park() {
  parked_ = true;
  paused_ = true;
  SetReading(false);
  worker_->parked_clients.push_back(this);
}

bool ClientSession::Unpark(bool topology_changed, int64_t now_ms) {
  if (!topology_changed && now_ms < state_.hold_deadline_ms) return false;
  if (state_.paused) {
    // A CLIENT PAUSE wait ends: its deadline was the pause's, not a hold's.
    state_.paused = false;
    state_.hold_deadline_ms = 0;
  }
  parked_ = false;
  worker_->resumable_clients.push_back(this);
  return true;
}

void ClientSession::ProtocolError(const std::string& message) {
  worker_->stats->protocol_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("client {} ({}) closed: {}", state_.id, state_.peer, message);
  replies_.AddFinal("-ERR " + message + "\r\n");
}

bool ClientSession::ReadyToResume() const {
  return paused_ && !parked_ &&
         (awaiting_replies_ ? replies_.empty() : replies_.size() < kMaxQueuedReplies / 2);
}

void ClientSession::OnRepliesWritten() {
  if (ReadyToResume()) worker_->resumable_clients.push_back(this);
  MarkDirty();
}

void ClientSession::MarkDirty() {
  if (!dirty_ && !closed()) {
    dirty_ = true;
    worker_->dirty_clients.push_back(this);
  }
}

void ClientSession::FlushOutput() {
  dirty_ = false;
  if (closed()) return;
  while (!output_.empty()) {
    ssize_t n = write(state_.fd, output_.data(), output_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      Close();
      return;
    }
    output_.Consume(static_cast<size_t>(n));
    worker_->stats->bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  const ProxyOptions& options = *worker_->options;
  // A MONITOR stream is pushed to the client unasked, like pub/sub messages,
  // and carries every master's traffic: a monitor that stops reading grows
  // fastest of all, so it gets the subscribers' (smaller) limit. (redis-server
  // counts a monitor as a normal client, unlimited by default.)
  const bool subscribed = state_.subscriptions.active() || (state_.reply_mode & kMonitoring) != 0;
  size_t limit = subscribed ? options.pubsub_output_limit_bytes : options.output_limit_bytes;
  if (limit > 0 && output_.size() > limit) {
    // A client that does not read its replies (a stalled subscriber, a
    // pipeliner that never reads) must not make the proxy's memory grow.
    spdlog::warn("client {} ({}) closed: {} bytes of replies unread, over the {} byte limit{}", state_.id,
                 state_.peer, output_.size(), limit, subscribed ? " for subscribers and monitors" : "");
    worker_->stats->output_limit_disconnects.fetch_add(1, std::memory_order_relaxed);
    Close();
    return;
  }
  if (output_.empty()) {
    output_.ShrinkIfIdle(kIdleBufferKeep);
    if (close_after_flush_) {
      Close();
      return;
    }
    if (paused_ && replies_.size() < kMaxQueuedReplies / 2) worker_->resumable_clients.push_back(this);
  }
  bool want = !output_.empty();
  if (want != want_write_) {
    want_write_ = want;
    SetReading(reading_);
  }
}

void ClientSession::ResumeInput() {
  // A parked client is resumed by the worker only (Unpark).
  if (closed() || !paused_ || parked_ || state_.closing) return;
  if (replies_.size() >= kMaxQueuedReplies / 2 || output_.size() >= kMaxOutputBeforePause / 2) return;
  if (awaiting_replies_ && !replies_.empty()) return;
  awaiting_replies_ = false;
  paused_ = false;
  SetReading(true);
  if (!input_.empty()) {
    size_t consumed = ProcessInput(input_.data(), input_.size());
    if (!closed()) input_.Consume(consumed);
  }
}

void ClientSession::StopReading() {
  state_.closing = true;
  SetReading(false);
}

void ClientSession::SetReading(bool reading) {
  if (closed()) return;
  reading_ = reading;
  // While not reading, a hang-up is still watched for (EPOLLRDHUP), so that
  // a client that leaves while blocked is not kept.
  uint32_t hangup = peer_closed_ ? 0u : uint32_t{EPOLLRDHUP};
  uint32_t events = (reading_ ? uint32_t{EPOLLIN} : hangup) | (want_write_ ? uint32_t{EPOLLOUT} : 0u);
  worker_->loop->Modify(state_.fd, events, this);
}

bool ClientSession::IdleLongerThan(int64_t ms) const {
  if (state_.subscriptions.active() || (state_.reply_mode & kMonitoring) || !Idle() || own_.AnyInFlight())
    return false;  // blocked (BLPOP...): not idle
  return worker_->loop->now_ms() - state_.last_read_ms > ms;
}

void ClientSession::Close() {
  if (closed()) return;
  worker_->loop->Remove(state_.fd);
  close(state_.fd);
  state_.fd = -1;
  replies_.Close();
  own_.DropAll();
  // It is freed at the end of this loop iteration: no later pass may see it.
  std::erase(worker_->resumable_clients, this);
  if (parked_) std::erase(worker_->parked_clients, this);
  worker_->stats->connected_clients.fetch_sub(1, std::memory_order_relaxed);
  worker_->closed_clients.push_back(this);
}

}  // namespace redkube::proxy
