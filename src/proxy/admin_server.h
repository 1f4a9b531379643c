// The proxy's admin HTTP endpoint: /healthz, /readyz and /metrics
// (Prometheus text format). A tiny blocking server on its own thread: it is
// off the request path and serves a handful of scrapes a minute.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "core/status.h"

namespace redkube::proxy {

class ProxyServer;

class AdminServer {
 public:
  AdminServer(ProxyServer* proxy, std::string bind, uint16_t port);
  ~AdminServer();

  Status Start();
  void Stop();

  // The body of /metrics.
  static std::string RenderMetrics(ProxyServer* proxy);

 private:
  void Serve();

  ProxyServer* proxy_;
  std::string bind_;
  uint16_t port_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace redkube::proxy
