// Follows a cluster's topology on the ConfigServer: long-polls
// GET /v1/clusters/NAME/topology?after=EPOCH, which answers as soon as the
// epoch moves, and hands every newer document to the ProxyServer. Several
// ConfigServer URLs may be given; a failing one is skipped for the next.
// While none answers the proxy keeps the topology it has.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace httplib {
class Client;
}

namespace redkube::proxy {

class ProxyServer;

class TopologyWatcher {
 public:
  TopologyWatcher(std::vector<std::string> urls, std::string cluster, std::string token);
  ~TopologyWatcher();

  // One fetch of the current topology, trying each URL once.
  Result<std::shared_ptr<const Topology>> FetchOnce();
  // Watches on a thread of its own until Stop(), applying to `server`.
  void Start(ProxyServer* server, uint64_t epoch);
  void Stop();

  uint64_t updates() const { return updates_.load(); }
  bool connected() const { return connected_.load(); }

 private:
  void Run(ProxyServer* server, uint64_t epoch);
  // 200 with a topology, 204 (nothing newer yet: nullptr), or an error.
  Result<std::shared_ptr<const Topology>> Poll(const std::string& url, uint64_t after,
                                               int wait_ms);

  std::vector<std::string> urls_;
  std::string cluster_;
  std::string token_;
  size_t current_ = 0;
  std::atomic<uint64_t> updates_{0};
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  httplib::Client* active_ = nullptr;  // the long-poll in flight, under mu_
  std::thread thread_;
};

}  // namespace redkube::proxy
