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
#include "proxy/reply_queue.h"

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
      recorder_(&loop_, server->slow_log()),
      backends_(&loop_, server, this),
      dispatcher_(&context_) {
  own_backend_options_ = server_->options().backend;
  own_backend_options_.reply_timeout_ms = 0;  // a blocked command owes its reply for as long as it blocks
  own_backend_options_.release_idle_buffers = true;
  own_backend_options_.log_state_changes = false;
  own_backend_options_.learn_server_client_id = true;  // CLIENT UNBLOCK names them to their servers
  context_.loop = &loop_;
  context_.server = server_;
  context_.options = &server_->options();
  context_.stats = server_->stats();
  context_.pending_pool = &pending_pool_;
  context_.recorder = &recorder_;
  context_.backends = &backends_;
  context_.sink = this;
  context_.worker_index = index_;
  context_.clients = &clients_;
  context_.own_backend_options = &own_backend_options_;
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
  context_.closed_clients.clear();
  clients_.clear();
  backends_.Clear();
}

void Worker::Accept() {
  const ProxyOptions& options = server_->options();
  for (int i = 0; i < 64; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        spdlog::warn("accept failed: {}", strerror(errno));
      }
      return;
    }
    ProxyStats* s = server_->stats();
    s->total_connections.fetch_add(1, std::memory_order_relaxed);
    if (s->connected_clients.fetch_add(1, std::memory_order_relaxed) >= options.max_clients) {
      s->connected_clients.fetch_sub(1, std::memory_order_relaxed);
      uint64_t rejected = s->rejected_connections.fetch_add(1, std::memory_order_relaxed) + 1;
      int64_t log_after = s->next_refusal_log_ms.load(std::memory_order_relaxed);
      if (loop_.now_ms() >= log_after &&
          s->next_refusal_log_ms.compare_exchange_strong(log_after, loop_.now_ms() + 10000)) {
        // One line per 10 s at most for the process, however many are refused.
        spdlog::warn("client {} refused: --max-clients {} reached ({} refused since start)", AddressOf(peer),
                     options.max_clients, rejected);
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
    auto client =
        std::make_unique<ClientSession>(&context_, &dispatcher_, fd, id, AddressOf(peer), AddressOf(local));
    ClientSession* raw = client.get();
    clients_.emplace(raw, std::move(client));
  }
}

void Worker::OnBackendConnecting(BackendConnection* backend) {
  // A new connection may reach a server that lacks the scripts loaded
  // through this proxy (a promoted replica, a restarted server): load them
  // first, so that EVALSHA keeps working, in the client's order.
  if (backend->options() != &server_->options().backend) return;  // shared connections only
  for (const std::string& body : server_->scripts()->Bodies()) {
    static constexpr std::string_view kScriptLoad[] = {"SCRIPT", "LOAD"};
    Buffer* out = backend->StartOwnRequest();
    AppendArrayHeader(out, 3);
    for (auto a : kScriptLoad) AppendBulk(out, a);
    AppendBulk(out, body);
  }
}

void Worker::OnBackendReply(PendingReply* pending, uint32_t part, std::string_view reply) {
  DeliverReply(pending, part, reply, &pending_pool_);
}

void Worker::OnBackendPush(BackendConnection* backend, std::string_view message) {
  if (auto* own = static_cast<ClientBackends*>(backend->push_owner())) own->OnPush(message);
}

void Worker::OnSubscriptionsLost(BackendConnection* backend) {
  if (auto* own = static_cast<ClientBackends*>(backend->push_owner())) own->OnSubscriptionsLost(backend);
}

void Worker::ApplyTopologyIfChanged() {
  uint64_t generation = server_->topology_generation();
  uint64_t replicas_generation = server_->replicas_generation();
  if (generation == context_.topology_generation && replicas_generation == replicas_generation_) return;
  const bool topology_changed = generation != context_.topology_generation || context_.router == nullptr;
  if (topology_changed) context_.router = std::make_shared<const SlotRouter>(server_->topology());
  context_.topology_generation = generation;
  replicas_generation_ = replicas_generation;
  backends_.Apply(*context_.router, *server_->readable_replicas());
  // Fenced masters: the shared connections were fenced above; the clients'
  // own ones go now, before the epoch is recorded, which tells the
  // ConfigServer that nothing of this thread's is in flight there.
  if (topology_changed) {
    bool any_fenced = false;
    for (const Shard& shard : context_.router->topology().shards()) any_fenced |= shard.fenced;
    if (any_fenced) {
      ticking_.assign(context_.with_own_backends.begin(), context_.with_own_backends.end());
      for (ClientBackends* own : ticking_) {
        if (context_.with_own_backends.count(own)) own->RetireFenced();
      }
    }
  }
  // Recorded once the router is in place: from now on every request of
  // this thread is routed by this epoch (the ConfigServer's mover counts on
  // it, see AppliedEpochs).
  server_->applied_epochs()->Record(index_, context_.router->topology().epoch());
  // Requests waiting for a held key try again under the new topology
  // (which may have lifted the hold, or moved the key's slot).
  if (topology_changed) WakeParked(true);
}

void Worker::WakeParked(bool topology_changed) {
  std::erase_if(context_.parked_clients,
                [&](ClientSession* c) { return c->Unpark(topology_changed, loop_.now_ms()); });
}

void Worker::BeforeSleep() {
  ApplyTopologyIfChanged();
  if (shutdown_requested_.load(std::memory_order_acquire) && !draining_) {
    draining_ = true;
    drain_deadline_ms_ = loop_.now_ms() + server_->options().shutdown_grace_ms;
    loop_.Remove(listen_fd_);
    close(listen_fd_);
    listen_fd_ = -1;
    for (auto& [ptr, client] : clients_) client->StopReading();
  }
  // Resuming a paused client may dispatch requests: do it before flushing.
  auto& resumable = context_.resumable_clients;
  for (size_t i = 0; i < resumable.size(); ++i) {
    ClientSession* c = resumable[i];
    if (!c->closed()) c->ResumeInput();
  }
  resumable.clear();
  for (size_t i = 0; i < dirty_backends_.size(); ++i) dirty_backends_[i]->Flush();
  dirty_backends_.clear();
  auto& dirty = context_.dirty_clients;
  for (size_t i = 0; i < dirty.size(); ++i) dirty[i]->FlushOutput();
  dirty.clear();
  for (ClientSession* c : context_.closed_clients) clients_.erase(c);
  context_.closed_clients.clear();
  context_.retired.clear();
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
  backends_.Tick();
  if (!context_.parked_clients.empty()) WakeParked(false);  // those whose hold timed out
  const ProxyOptions& options = server_->options();
  if (options.idle_timeout_s > 0 && loop_.now_ms() >= next_idle_check_ms_) {
    next_idle_check_ms_ = loop_.now_ms() + 1000;
    const int64_t limit_ms = int64_t{options.idle_timeout_s} * 1000;
    for (auto& [ptr, client] : clients_) {
      if (!client->closed() && client->IdleLongerThan(limit_ms)) {
        server_->stats()->idle_disconnects.fetch_add(1, std::memory_order_relaxed);
        client->Close();
      }
    }
  }
  // A copy: ticking may drop a client's connections (it leaves the set).
  ticking_.assign(context_.with_own_backends.begin(), context_.with_own_backends.end());
  for (ClientBackends* own : ticking_) {
    if (context_.with_own_backends.count(own)) own->Tick();
  }
}

}  // namespace redkube::proxy
