#include "proxy/worker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "proxy/client_session.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {
namespace {

std::string AddressOf(const sockaddr_in& addr) {
  char ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
  return fmt::format("{}:{}", ip, ntohs(addr.sin_port));
}

}  // namespace

class Worker::Listener : public EventHandler {
 public:
  explicit Listener(Worker* worker) : worker_(worker) {}
  void OnEvent(uint32_t) override { worker_->Accept(); }

 private:
  Worker* worker_;
};

Worker::Worker(int index, ProxyServer* server, int listen_fd)
    : index_(index),
      server_(server),
      listen_fd_(listen_fd),
      listener_(std::make_unique<Listener>(this)),
      slow_log_(server->slow_log()),
      dispatcher_(this) {
  blocking_options_ = server_->options().backend;
  blocking_options_.reply_timeout_ms = 0;  // a blocked command owes its reply for as long as it blocks
  blocking_options_.release_idle_buffers = true;
  blocking_options_.log_state_changes = false;
  loop_.Add(listen_fd_, EPOLLIN, listener_.get());
  loop_.SetBeforeSleep([this] { BeforeSleep(); });
  loop_.SetTick(50, [this] { Tick(); });
  loop_.SetOnWakeup([] {});  // the work happens in BeforeSleep
  ApplyTopologyIfChanged();  // generation 0 is never current: builds the shard table
}

Worker::~Worker() {
  clients_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
}

const ProxyOptions& Worker::options() const { return server_->options(); }
ProxyStats* Worker::stats() { return server_->stats(); }

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::RequestShutdown() {
  shutdown_requested_.store(true, std::memory_order_release);
  loop_.Wakeup();
}

void Worker::Run() {
  pthread_setname_np(pthread_self(), fmt::format("proxy-w{}", index_).c_str());
  loop_.Run();
  // Whatever is left after the drain is closed.
  for (auto& [ptr, client] : clients_) client->Close();
  closed_clients_.clear();
  clients_.clear();
  backends_.clear();
}

void Worker::Accept() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("accept failed: {}", strerror(errno));
      }
      return;
    }
    ProxyStats* s = stats();
    s->total_connections.fetch_add(1, std::memory_order_relaxed);
    if (s->connected_clients.fetch_add(1, std::memory_order_relaxed) >= options().max_clients) {
      s->connected_clients.fetch_sub(1, std::memory_order_relaxed);
      uint64_t rejected = s->rejected_connections.fetch_add(1, std::memory_order_relaxed) + 1;
      int64_t log_after = s->next_refusal_log_ms.load(std::memory_order_relaxed);
      if (loop_.now_ms() >= log_after &&
          s->next_refusal_log_ms.compare_exchange_strong(log_after, loop_.now_ms() + 10000)) {
        // One line per 10 s at most for the process, however many are refused.
        spdlog::warn("client {} refused: --max-clients {} reached ({} refused since start)", AddressOf(peer),
                     options().max_clients, rejected);
      }
      static constexpr char kMaxClients[] = "-ERR max number of clients reached\r\n";
      ssize_t ignored = write(fd, kMaxClients, sizeof(kMaxClients) - 1);
      (void)ignored;
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in local{};
    socklen_t local_len = sizeof(local);
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    uint64_t id = s->next_client_id.fetch_add(1, std::memory_order_relaxed);
    auto client = std::make_unique<ClientSession>(this, fd, id, AddressOf(peer), AddressOf(local));
    ClientSession* raw = client.get();
    clients_.emplace(raw, std::move(client));
  }
}

void Worker::OnClientClosed(ClientSession* client) {
  clients_with_blocking_.erase(client);
  // It is freed at the end of this loop iteration: no later pass may see it.
  std::erase(resumable_clients_, client);
  stats()->connected_clients.fetch_sub(1, std::memory_order_relaxed);
  closed_clients_.push_back(client);
}

void Worker::OnBackendConnecting(BackendConnection* backend) {
  // A new connection may reach a server that lacks the scripts loaded
  // through this proxy (a promoted replica, a restarted server): load them
  // first, so that EVALSHA keeps working, in the client's order.
  if (backend->options() != &options().backend) return;  // shared connections only
  for (const std::string& body : server_->scripts()->Bodies()) {
    static constexpr std::string_view kScriptLoad[] = {"SCRIPT", "LOAD"};
    Buffer* out = backend->StartOwnRequest();
    AppendArrayHeader(out, 3);
    for (auto a : kScriptLoad) AppendBulk(out, a);
    AppendBulk(out, body);
  }
}

void Worker::OnBackendReply(PendingReply* pending, uint32_t part, std::string_view reply) {
  ClientSession* client = pending->client;
  if (pending->fixed) {
    if (IsErrorReply(reply)) pending->data.assign(reply);
  } else if (pending->merging) {
    pending->merger->SetPart(part, reply);
  } else if (client != nullptr && client->IsNextReply(pending)) {
    // The common case: the reply is next in line, so it goes straight to the
    // client's output, one copy.
    // Its (empty) data is popped without writing anything more.
    if (pending->command != 0) {
      RecordReply(*pending, reply);
      pending->command = 0;
    }
    client->AppendOutput(reply);
    pending->done = true;
    pending->outstanding = 0;
    client->DrainDoneReplies();
    return;
  } else if (client != nullptr) {
    pending->data.assign(reply);
  }
  if (--pending->outstanding > 0) return;
  if (pending->merging && client != nullptr) pending->merger->Finish(&pending->data);
  pending->done = true;
  if (client == nullptr) {
    pending_pool_.Put(pending);
  } else {
    client->DrainDoneReplies();
  }
}

void Worker::LogSlowRequest(const PendingReply& pending, int64_t duration_us) {
  SlowLogEntry entry;
  entry.unix_time_s = time(nullptr);
  entry.duration_us = duration_us;
  entry.args = SlowLogArgs::Expand(pending.slowlog_args);
  if (pending.client != nullptr) {
    entry.client_addr = pending.client->peer();
    entry.client_name = pending.client->name();
  }
  slow_log_->Add(std::move(entry));
}

void Worker::OnBackendPush(BackendConnection* backend, std::string_view message) {
  auto* client = static_cast<ClientSession*>(backend->push_owner());
  if (client != nullptr && !client->closed()) client->Push(message);
}

void Worker::OnSubscriptionsLost(BackendConnection* backend) {
  auto* client = static_cast<ClientSession*>(backend->push_owner());
  if (client != nullptr && !client->closed()) client->OnSubscriptionsLost(backend);
}

BackendConnection* Worker::BackendFor(const HostPort& address) {
  std::string key = address.ToString();
  auto it = backends_.find(key);
  if (it == backends_.end()) {
    it = backends_.emplace(key, std::make_unique<BackendConnection>(&loop_, address, &options().backend, this))
             .first;
    it->second->set_stats(server_->StatsForBackend(key));
  }
  return it->second.get();
}

void Worker::ApplyTopologyIfChanged() {
  uint64_t generation = server_->topology_generation();
  uint64_t replicas_generation = server_->replicas_generation();
  if (generation == topology_generation_ && replicas_generation == replicas_generation_) return;
  topology_generation_ = generation;
  replicas_generation_ = replicas_generation;
  topology_ = server_->topology();
  auto readable = server_->readable_replicas();
  shard_backends_.clear();
  replica_backends_.assign(topology_->shards().size(), {});
  for (size_t i = 0; i < topology_->shards().size(); ++i) {
    const Shard& shard = topology_->shards()[i];
    shard_backends_.push_back(BackendFor(shard.master));
    if (options().read_from == ReadFrom::kMaster) continue;
    for (const auto& replica : shard.replicas) {
      if (readable->Contains(shard.master, replica)) replica_backends_[i].push_back(BackendFor(replica));
    }
  }
}

BackendConnection* Worker::ReadBackendForShard(int shard_index) {
  const auto& replicas = replica_backends_[shard_index];
  for (size_t tries = 0; tries < replicas.size(); ++tries) {
    BackendConnection* b = replicas[next_replica_++ % replicas.size()];
    if (!b->failing()) return b;  // one this worker just saw fail waits for the monitor
  }
  return options().read_from == ReadFrom::kReplica ? nullptr : shard_backends_[shard_index];
}

void Worker::BeforeSleep() {
  ApplyTopologyIfChanged();
  if (shutdown_requested_.load(std::memory_order_acquire) && !draining_) {
    draining_ = true;
    drain_deadline_ms_ = loop_.now_ms() + options().shutdown_grace_ms;
    loop_.Remove(listen_fd_);
    close(listen_fd_);
    listen_fd_ = -1;
    for (auto& [ptr, client] : clients_) client->StopReading();
  }
  // Resuming a paused client may dispatch requests: do it before flushing.
  for (size_t i = 0; i < resumable_clients_.size(); ++i) {
    ClientSession* c = resumable_clients_[i];
    if (!c->closed()) c->ResumeInput();
  }
  resumable_clients_.clear();
  for (size_t i = 0; i < dirty_backends_.size(); ++i) dirty_backends_[i]->Flush();
  dirty_backends_.clear();
  for (size_t i = 0; i < dirty_clients_.size(); ++i) dirty_clients_[i]->FlushOutput();
  dirty_clients_.clear();
  for (ClientSession* c : closed_clients_) clients_.erase(c);
  closed_clients_.clear();
  retired_backends_.clear();
  if (draining_) DrainForShutdown();
}

void Worker::DrainForShutdown() {
  bool idle = true;
  for (auto& [ptr, client] : clients_) {
    if (!client->Idle()) {
      idle = false;
      break;
    }
  }
  if (idle || loop_.now_ms() >= drain_deadline_ms_) loop_.Stop();
}

void Worker::Tick() {
  for (auto& [name, backend] : backends_) backend->Tick();
  if (options().idle_timeout_s > 0 && loop_.now_ms() >= next_idle_check_ms_) {
    next_idle_check_ms_ = loop_.now_ms() + 1000;
    const int64_t limit_ms = int64_t{options().idle_timeout_s} * 1000;
    for (auto& [ptr, client] : clients_) {
      if (!client->closed() && client->IdleLongerThan(limit_ms)) {
        stats()->idle_disconnects.fetch_add(1, std::memory_order_relaxed);
        client->Close();
      }
    }
  }
  for (ClientSession* client : clients_with_blocking_) client->TickOwnBackends();
  // Connections to servers that left the topology go once they owe nothing.
  for (auto it = backends_.begin(); it != backends_.end();) {
    bool used = false;
    for (BackendConnection* b : shard_backends_) used |= (b == it->second.get());
    for (const auto& replicas : replica_backends_) {
      for (BackendConnection* b : replicas) used |= (b == it->second.get());
    }
    if (!used && it->second->idle()) {
      it = backends_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string Worker::InfoSections() const {
  const ProxyStats& s = *server_->stats();
  int64_t uptime_s = (EventLoop::MonotonicMs() - server_->start_time_ms()) / 1000;
  return fmt::format(
      "# Proxy\r\nredkube_version:0.1.0\r\nprocess_id:{}\r\ntcp_port:{}\r\nthreads:{}\r\n"
      "uptime_in_seconds:{}\r\ncluster:{}\r\ntopology_epoch:{}\r\nshards:{}\r\n\r\n"
      "# Clients\r\nconnected_clients:{}\r\n\r\n"
      "# Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\n"
      "total_commands_processed:{}\r\nprotocol_errors:{}\r\n\r\n",
      getpid(), options().port, options().threads, uptime_s, topology_->cluster(),
      topology_->epoch(), topology_->shards().size(), s.connected_clients.load(),
      s.total_connections.load(), s.rejected_connections.load(), s.total_commands.load(),
      s.protocol_errors.load());
}

}  // namespace redkube::proxy
