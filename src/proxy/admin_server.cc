#include "proxy/admin_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/event_loop.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {

AdminServer::AdminServer(ProxyServer* proxy, std::string bind, uint16_t port)
    : proxy_(proxy), bind_(std::move(bind)), port_(port) {}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (inet_pton(AF_INET, bind_.c_str(), &addr.sin_addr) != 1) {
    return Status::Error("admin bind address " + bind_ + " is not IPv4");
  }
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    std::string error = strerror(errno);
    close(listen_fd_);
    listen_fd_ = -1;
    return Status::Error(fmt::format("cannot listen on admin port {}:{}: {}", bind_, port_, error));
  }
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void AdminServer::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

std::string AdminServer::RenderMetrics(ProxyServer* proxy) {
  const ProxyStats& s = *proxy->stats();
  auto topology = proxy->topology();
  return fmt::format(
      "# TYPE redkube_proxy_connected_clients gauge\n"
      "redkube_proxy_connected_clients {}\n"
      "# TYPE redkube_proxy_connections_total counter\n"
      "redkube_proxy_connections_total {}\n"
      "# TYPE redkube_proxy_rejected_connections_total counter\n"
      "redkube_proxy_rejected_connections_total {}\n"
      "# TYPE redkube_proxy_commands_total counter\n"
      "redkube_proxy_commands_total {}\n"
      "# TYPE redkube_proxy_protocol_errors_total counter\n"
      "redkube_proxy_protocol_errors_total {}\n"
      "# TYPE redkube_proxy_topology_epoch gauge\n"
      "redkube_proxy_topology_epoch {}\n"
      "# TYPE redkube_proxy_shards gauge\n"
      "redkube_proxy_shards {}\n",
      s.connected_clients.load(), s.total_connections.load(), s.rejected_connections.load(),
      s.total_commands.load(), s.protocol_errors.load(), topology->epoch(),
      topology->shards().size());
}

void AdminServer::Serve() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char request[4096];
    ssize_t n = read(fd, request, sizeof(request) - 1);
    std::string_view req(request, n > 0 ? static_cast<size_t>(n) : 0);
    std::string status = "200 OK", body;
    std::string type = "text/plain; charset=utf-8";
    if (req.starts_with("GET /metrics")) {
      body = RenderMetrics(proxy_);
      type = "text/plain; version=0.0.4";
    } else if (req.starts_with("GET /healthz") || req.starts_with("GET /readyz")) {
      body = "ok\n";
    } else {
      status = "404 Not Found";
      body = "not found\n";
    }
    std::string response = fmt::format(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, type, body.size(), body);
    ssize_t ignored = write(fd, response.data(), response.size());
    (void)ignored;
    close(fd);
  }
}

}  // namespace redkube::proxy
