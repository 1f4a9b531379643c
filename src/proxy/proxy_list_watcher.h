// Keeps the proxy's list of its cluster's live proxies fresh: every 2 s,
// on a thread of its own (never a worker's), it fetches
// GET /v1/clusters/NAME/proxies from the ConfigServer and publishes the
// answer to the ProxyServer (SetProxyList), an immutable snapshot that
// workers read when a cluster-mode client asks (CLUSTER SLOTS, NODES, ...).
//
// Several ConfigServer URLs may be given; a failing one is skipped for the
// next. While none answers, the last list is kept: a proxy that stopped
// meanwhile stays listed, and a client that tries it fails over to the
// others as it would from a failed node.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/periodic_thread.h"
#include "core/status.h"

namespace redkube::proxy {

class ProxyServer;

class ProxyListWatcher {
 public:
  static constexpr std::chrono::milliseconds kInterval{2000};

  ProxyListWatcher(std::vector<std::string> urls, std::string cluster, std::string token,
                   ProxyServer* server);
  ~ProxyListWatcher();

  // The first fetch at once, then every kInterval until Stop().
  void Start() { poller_.Start(); }
  void Stop() { poller_.Stop(); }

 private:
  // One fetch, published on success; on the watcher's thread.
  void FetchOnce();
  Status Fetch(const std::string& url);

  std::vector<std::string> urls_;
  std::string cluster_;
  std::string token_;
  ProxyServer* server_;
  size_t current_ = 0;
  bool warned_ = false;
  // Last, so that it stops before the members a fetch uses go.
  PeriodicThread poller_;
};

}  // namespace redkube::proxy
