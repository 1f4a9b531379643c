// The proxy's admin HTTP endpoint (cpp-httplib, the project's one HTTP
// stack), off the request path on threads of its own:
//   /metrics  Prometheus text (ProxyServer::RenderMetrics)
//   /healthz  200 while the process serves
//   /readyz   200 once a topology is loaded and every shard's master has a
//             connection up, else 503 (what a Kubernetes readiness probe
//             and a load balancer should look at)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace httplib {
class Server;
}

namespace redkube::proxy {

class ProxyServer;

class AdminServer {
 public:
  AdminServer(ProxyServer* proxy, std::string bind, uint16_t port);
  ~AdminServer();

  Status Start();
  void Stop();

 private:
  ProxyServer* proxy_;
  std::string bind_;
  uint16_t port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace redkube::proxy
