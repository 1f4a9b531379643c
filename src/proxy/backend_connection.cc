#include "proxy/backend_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/socket_address.h"
#include "proxy/address_book.h"
#include "proxy/pending_reply.h"
#include "proxy/pubsub_protocol.h"

namespace redkube::proxy {

uint64_t BackendConnection::NextSession() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

BackendConnection::BackendConnection(EventLoop* loop, HostPort address, const BackendOptions* options,
                                     ReplySink* sink)
    : loop_(loop), address_(std::move(address)), name_(address_.ToString()), options_(options), sink_(sink) {}

BackendConnection::~BackendConnection() {
  if (state_ == State::kConnected && stats_) stats_->connections.fetch_sub(1, std::memory_order_relaxed);
  if (fd_ >= 0) {
    loop_->Remove(fd_);
    close(fd_);
  }
}

Buffer* BackendConnection::StartRequest(PendingReply* pending, uint32_t part) {
  if (state_ == State::kDown && !fenced_ && loop_->now_ms() >= retry_at_ms_) Connect();
  in_flight_.push_back({pending, part, loop_->now_us()});
  if (!dirty_) {
    dirty_ = true;
    sink_->MarkBackendDirty(this);
  }
  return &out_;
}

Buffer* BackendConnection::StartSubscriptionRequest(PendingReply* pending) {
  Buffer* out = StartRequest(pending, 0);
  in_flight_.back().subscription = true;
  return out;
}

void BackendConnection::Connect() {
  // Whatever was queued while down is failed now, so that AUTH goes first.
  FailOwed(last_error_);
  session_ = NextSession();

  auto addr = options_->addresses ? options_->addresses->Lookup(address_) : ResolveIPv4(address_);
  if (!addr.ok()) {
    Fail(addr.error());
    return;
  }
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    Fail(std::string("socket: ") + strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  int rc = connect(fd_, reinterpret_cast<sockaddr*>(&addr.value()), sizeof(sockaddr_in));
  if (rc != 0 && errno != EINPROGRESS) {
    Fail(strerror(errno));
    return;
  }
  state_ = State::kConnecting;
  connect_started_ms_ = loop_->now_ms();
  want_write_ = true;
  loop_->Add(fd_, EPOLLIN | EPOLLOUT, this);
  if (!options_->password.empty()) {
    Buffer* out = StartOwnRequest();
    AppendArrayHeader(out, 2);
    AppendBulk(out, "AUTH");
    AppendBulk(out, options_->password);
  }
  if (protocol_ != 2) SendHello();
  if (options_->learn_server_client_id) {
    Buffer* out = StartOwnRequest();
    in_flight_.back().client_id = true;
    AppendArrayHeader(out, 2);
    AppendBulk(out, "CLIENT");
    AppendBulk(out, "ID");
  }
  sink_->OnBackendConnecting(this);
}

void BackendConnection::SendHello() {
  Buffer* out = StartOwnRequest();
  AppendArrayHeader(out, 2);
  AppendBulk(out, "HELLO");
  AppendBulk(out, std::to_string(protocol_));
}

void BackendConnection::SetProtocol(int resp) {
  if (resp == protocol_) return;
  protocol_ = resp;
  if (state_ == State::kDown) return;  // the next Connect() says it
  SendHello();
  if (!dirty_) {
    dirty_ = true;
    sink_->MarkBackendDirty(this);
  }
}

uint64_t BackendConnection::OldestClientReply() const {
  for (size_t i = 0; i < in_flight_.size(); ++i) {
    if (in_flight_[i].pending != nullptr) return replies_read_ + i + 1;
  }
  return 0;
}

Buffer* BackendConnection::StartOwnRequest() {
  in_flight_.push_back({nullptr, 0, loop_->now_us()});
  return &out_;
}

void BackendConnection::OnConnected() {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    Fail(strerror(err));
    return;
  }
  state_ = State::kConnected;
  if (stats_) stats_->connections.fetch_add(1, std::memory_order_relaxed);
  if (retry_delay_ms_ > 0 && options_->log_state_changes) spdlog::info("backend {} is up", name_);
  retry_delay_ms_ = 0;
}

void BackendConnection::OnEvent(uint32_t events) {
  if (state_ == State::kConnecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) OnConnected();
    if (state_ != State::kConnected) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ReadReplies();
    if (state_ != State::kConnected) return;
  }
  if (events & EPOLLOUT) WriteOut();
}

void BackendConnection::ReadReplies() {
  ReadAvailableReplies();
  if (options_->release_idle_buffers && in_flight_.empty()) {
    in_.ShrinkIfIdle(0);
    out_.ShrinkIfIdle(0);
  }
}

void BackendConnection::ReadAvailableReplies() {
  for (int round = 0; round < 4; ++round) {
    in_.Reserve(16 * 1024);
    ssize_t n = read(fd_, in_.write_ptr(), in_.writable());
    if (n == 0) {
      Fail("connection closed by the server");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      Fail(strerror(errno));
      return;
    }
    in_.Commit(static_cast<size_t>(n));
    while (!in_.empty()) {
      int64_t len = scanner_.Scan(in_.data(), in_.size());
      if (len == 0) break;
      std::string_view reply(in_.data(), static_cast<size_t>(len > 0 ? len : 0));
      if (len > 0 && subscriptions_ > 0 && IsPubsubMessage(reply)) {
        sink_->OnBackendPush(this, reply);
        in_.Consume(static_cast<size_t>(len));
        continue;
      }
      if (len < 0 || in_flight_.empty()) {
        if (len > 0 && monitoring_) {  // a MONITOR line: nothing is owed on a monitoring connection
          sink_->OnBackendPush(this, reply);
          in_.Consume(static_cast<size_t>(len));
          continue;
        }
        Fail(len < 0 ? "malformed reply from the server" : "unexpected reply from the server");
        return;
      }
      InFlight owed = in_flight_.front();
      in_flight_.pop_front();
      ++replies_read_;
      if (owed.subscription) {
        if (auto count = SubscriptionCount(reply)) subscriptions_ = *count;
      }
      if (owed.pending != nullptr) {
        if (stats_) stats_->latency.Record(loop_->now_us() - owed.sent_us);
        sink_->OnBackendReply(owed.pending, owed.part, reply);
      } else if (owed.client_id && !IsErrorReply(reply)) {
        if (!ParseIntegerReply(reply, &server_client_id_)) server_client_id_ = -1;
      } else if (IsErrorReply(reply)) {
        spdlog::error("backend {} refused a request of the proxy's own (AUTH, SCRIPT LOAD): {}", name_,
                      reply.substr(1, reply.size() - 3));
      }
      in_.Consume(static_cast<size_t>(len));
    }
    if (static_cast<size_t>(n) < 16 * 1024) return;
  }
}

void BackendConnection::Flush() {
  dirty_ = false;
  if (state_ == State::kDown) {
    FailOwed(last_error_);
    return;
  }
  if (state_ == State::kConnected) WriteOut();
}

void BackendConnection::WriteOut() {
  while (!out_.empty()) {
    ssize_t n = write(fd_, out_.data(), out_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      Fail(strerror(errno));
      return;
    }
    out_.Consume(static_cast<size_t>(n));
  }
  out_.ShrinkIfIdle(1024 * 1024);
  bool want = !out_.empty();
  if (want != want_write_) {
    want_write_ = want;
    UpdateInterest();
  }
}

void BackendConnection::UpdateInterest() {
  loop_->Modify(fd_, EPOLLIN | (want_write_ ? uint32_t{EPOLLOUT} : 0u), this);
}

void BackendConnection::Tick() {
  int64_t now = loop_->now_ms();
  switch (state_) {
    case State::kConnecting:
      if (now - connect_started_ms_ > options_->connect_timeout_ms) {
        Fail("connect timed out after " + std::to_string(options_->connect_timeout_ms) + " ms");
      }
      break;
    case State::kConnected:
      if (options_->reply_timeout_ms > 0 && !in_flight_.empty() &&
          now - in_flight_.front().sent_us / 1000 > options_->reply_timeout_ms) {
        Fail("no reply within " + std::to_string(options_->reply_timeout_ms) + " ms");
      }
      break;
    case State::kDown:
      // Reconnect in the background so the first request after a recovery
      // does not pay for it.
      if (!fenced_ && now >= retry_at_ms_) Connect();
      break;
  }
}

void BackendConnection::Fence(const std::string& reason) {
  if (fenced_) return;
  fenced_ = true;
  fence_reason_ = reason;
  if (options_->log_state_changes) spdlog::warn("backend {} fenced: {}", name_, reason);
  // Down on purpose: Fail() closes the socket and answers what is owed with
  // the reason (a request already written may still run on the server: its
  // client sees -TRYAGAIN, as for any connection lost with requests owed).
  Fail(reason);
}

void BackendConnection::Unfence() {
  if (!fenced_) return;
  fenced_ = false;
  if (options_->log_state_changes) spdlog::info("backend {} unfenced", name_);
  retry_delay_ms_ = 0;  // a fresh start: no backoff carried over from the fence
  if (state_ == State::kDown) Connect();
}

void BackendConnection::Abandon(const std::string& why) {
  retry_delay_ms_ = options_->retry_min_ms;  // keeps Fail() from logging
  state_ = State::kDown;
  Fail(why);
}

void BackendConnection::Fail(const std::string& reason) {
  bool was_up = state_ == State::kConnected;
  // A connect refused or timed out, or a connection dropped: the server may
  // have come back elsewhere under the same name (a rescheduled pod).
  if (state_ != State::kDown && options_->addresses) options_->addresses->RequestRefresh(address_.host);
  session_ = NextSession();
  server_client_id_ = -1;  // a new session gets a new id (a restarted server reuses old ones)
  if (was_up && stats_) {
    stats_->connections.fetch_sub(1, std::memory_order_relaxed);
    stats_->failures.fetch_add(1, std::memory_order_relaxed);
  }
  if (subscriptions_ > 0) {
    subscriptions_ = 0;
    sink_->OnSubscriptionsLost(this);
  }
  if (fd_ >= 0) {
    loop_->Remove(fd_);
    close(fd_);
    fd_ = -1;
  }
  if (options_->log_state_changes && !fenced_ &&
      (was_up || (state_ == State::kConnecting && retry_delay_ms_ == 0))) {
    spdlog::warn("backend {} is down: {}", name_, reason);
  }
  state_ = State::kDown;
  last_error_ = reason;
  want_write_ = false;
  retry_delay_ms_ =
      retry_delay_ms_ == 0 ? options_->retry_min_ms : std::min(retry_delay_ms_ * 2, options_->retry_max_ms);
  retry_at_ms_ = loop_->now_ms() + retry_delay_ms_;
  in_.Clear();
  scanner_ = ReplyScanner();
  FailOwed(reason);
}

// Answers everything owed with an error, without touching the connection or
// its reconnect schedule: requests that arrive while the backend is down fail
// fast and must not push the next reconnect attempt further out.
void BackendConnection::FailOwed(const std::string& reason) {
  out_.Clear();
  if (in_flight_.empty()) return;
  std::string error = "-TRYAGAIN backend " + name_ + " unavailable: " + reason + "\r\n";
  // Replies delivered below may queue new requests on this connection; take
  // the current list first.
  std::deque<InFlight> owed;
  owed.swap(in_flight_);
  bool subscribing = false;
  for (const InFlight& f : owed) {
    subscribing |= f.subscription;
    if (f.pending != nullptr) sink_->OnBackendReply(f.pending, f.part, error);
  }
  // A SUBSCRIBE that failed is still the client's (it is in its set, and a
  // second SUBSCRIBE would be confirmed without reaching a server): have it
  // made once the server is back, like subscriptions that were lost.
  if (subscribing) sink_->OnSubscriptionsLost(this);
}

}  // namespace redkube::proxy
