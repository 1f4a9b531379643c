#include "proxy/admin_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include "proxy/proxy_server.h"

namespace redkube::proxy {

AdminServer::AdminServer(ProxyServer* proxy, std::string bind, uint16_t port)
    : proxy_(proxy), bind_(std::move(bind)), port_(port), server_(std::make_unique<httplib::Server>()) {}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start() {
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(proxy_->RenderMetrics(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = proxy_->Ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "not ready: no topology, or a shard's master is unreachable\n",
                    "text/plain");
  });
  if (!server_->bind_to_port(bind_.c_str(), port_)) {
    return Status::Error("admin port: cannot listen on " + bind_ + ":" + std::to_string(port_));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void AdminServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace redkube::proxy
