// Settings of a proxy process, shared read-only by its threads.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/backend_connection.h"

namespace redkube::proxy {

struct ProxyOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 6380;
  int threads = 0;  // 0: one per core
  std::string password;  // empty: no AUTH required
  int max_clients = 10000;
  int admin_port = 0;  // 0: no admin endpoint
  int shutdown_grace_ms = 10000;
  BackendOptions backend;
};

}  // namespace redkube::proxy
