#include "proxy/proxy_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "proxy/event_loop.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

Result<int> Listen(const std::string& bind, uint16_t port, bool reuse_port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    return Status::Error("--bind " + bind + " is not an IPv4 address");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Each worker has its own listening socket on the same port; the kernel
  // spreads new connections across them.
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 4096) != 0) {
    std::string error = strerror(errno);
    close(fd);
    return Status::Error("cannot listen on " + bind + ":" + std::to_string(port) + ": " + error);
  }
  return fd;
}

}  // namespace

ProxyServer::ProxyServer(ProxyOptions options, std::shared_ptr<const Topology> topology)
    : options_(std::move(options)),
      topology_(std::move(topology)),
      start_time_ms_(EventLoop::MonotonicMs()) {
  if (options_.threads <= 0) {
    options_.threads = static_cast<int>(std::thread::hardware_concurrency());
    if (options_.threads <= 0) options_.threads = 1;
  }
}

ProxyServer::~ProxyServer() = default;

Status ProxyServer::Start() {
  // SO_REUSEPORT would let us share the port with another process of the same
  // user: bind once without it first so a taken port is an error, not a split.
  auto probe = Listen(options_.bind, options_.port, /*reuse_port=*/false);
  if (!probe.ok()) return probe.status();
  close(probe.value());
  std::vector<int> fds;
  for (int i = 0; i < options_.threads; ++i) {
    auto fd = Listen(options_.bind, options_.port, /*reuse_port=*/true);
    if (!fd.ok()) {
      for (int f : fds) close(f);
      return fd.status();
    }
    fds.push_back(fd.value());
  }
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, this, fds[i]));
  }
  for (auto& w : workers_) w->Start();
  return Status::Ok();
}

std::shared_ptr<const Topology> ProxyServer::topology() const {
  std::lock_guard<std::mutex> lock(topology_mu_);
  return topology_;
}

bool ProxyServer::UpdateTopology(std::shared_ptr<const Topology> topology) {
  {
    std::lock_guard<std::mutex> lock(topology_mu_);
    if (topology->cluster() != topology_->cluster()) {
      spdlog::warn("topology for cluster {} ignored: this proxy serves cluster {}",
                   topology->cluster(), topology_->cluster());
      return false;
    }
    if (topology->epoch() <= topology_->epoch()) {
      spdlog::info("topology epoch {} ignored: epoch {} is already applied", topology->epoch(),
                   topology_->epoch());
      return false;
    }
    spdlog::info("topology epoch {} applied ({} shards; was epoch {})", topology->epoch(),
                 topology->shards().size(), topology_->epoch());
    topology_ = std::move(topology);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : workers_) w->NotifyTopology();
  return true;
}

void ProxyServer::Shutdown() {
  for (auto& w : workers_) w->RequestShutdown();
  for (auto& w : workers_) w->Join();
  workers_.clear();
}

}  // namespace redkube::proxy
