// Carries CONFIG SET from the proxy's clients to the ConfigServer, which
// applies it to every server of the cluster and keeps it for the servers it
// starts later (POST /v1/clusters/NAME/config, docs/configserver.md). The
// HTTP requests run on the relay's one thread, never a worker's: an event
// loop must not wait on the ConfigServer. Each request's answer goes to the
// callback given with it, on the relay's thread; the caller posts it back
// to its worker (Worker::Post / EventLoop::Post).
//
// Requests are taken in order, one at a time (CONFIG SET is rare; the
// ConfigServer applies them one at a time anyway). Stop() drops requests not
// started yet, and their callbacks are never called: only at process exit,
// when no worker waits any more. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace redkube::proxy {

class ConfigRelay {
 public:
  // The RESP reply the client gets: "+OK\r\n" or "-ERR ...\r\n".
  using Done = std::function<void(std::string reply)>;
  using Settings = std::vector<std::pair<std::string, std::string>>;

  // urls: the ConfigServer URLs (--configserver), tried in order until one
  // answers; token: its bearer token ("" for none).
  ConfigRelay(std::vector<std::string> urls, std::string cluster, std::string token);
  ~ConfigRelay();

  void Start();
  void Stop();
  // Queues `settings` (param, value in the client's order) for the
  // ConfigServer; `done` gets the client's reply.
  void Submit(Settings settings, Done done);

  // The client's reply for the ConfigServer's answer (HTTP status, body):
  // 200 is +OK, anything else an -ERR carrying the answer's "error". Pure.
  static std::string ReplyFor(int status, const std::string& body);

 private:
  void Run();
  std::string Send(const Settings& settings);

  std::vector<std::string> urls_;
  std::string cluster_;
  std::string token_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Settings, Done>> queue_;  // under mu_
  bool stopping_ = false;                        // under mu_
  std::thread thread_;
};

}  // namespace redkube::proxy
