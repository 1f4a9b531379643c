// Settings of a proxy process, shared read-only by its threads.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/backend_connection.h"

namespace redkube::proxy {

// Where read-only commands go. Replicas trade read-your-writes for load
// spread: a read may miss a write the client just made.
enum class ReadFrom {
  kMaster,
  kReplica,        // only replicas in sync; none: the read fails (-TRYAGAIN)
  kPreferReplica,  // replicas in sync, else the master
};

struct ProxyOptions {
  // Who this proxy is to the ConfigServer, in its epoch reports (--id;
  // main() defaults it to "<hostname>:<port>").
  std::string id;
  std::string bind = "127.0.0.1";
  uint16_t port = 6380;
  // "host:port" clients reach this proxy at (--announce-address; main()
  // defaults it to bind:port when bind is a specific address): reported to
  // the ConfigServer, and presented to cluster-mode clients. Empty: none is
  // announced, and the proxy presents itself at the address each client
  // connected to.
  std::string announce_address;
  int threads = 0;       // 0: one per core
  std::string password;  // empty: no AUTH required
  int max_clients = 10000;
  int admin_port = 0;  // 0: no admin endpoint
  int shutdown_grace_ms = 10000;
  // A client whose unread replies pass this many bytes is disconnected (0:
  // no limit). Subscribers have their own, smaller limit, as in Redis.
  size_t output_limit_bytes = 256u << 20;
  size_t pubsub_output_limit_bytes = 32u << 20;
  // A client idle this long is disconnected (0: never); subscribers and
  // blocked clients are exempt, as with Redis's `timeout`.
  int idle_timeout_s = 0;
  // SLOWLOG: requests taking at least this long (-1: none), and how many
  // are kept. Redis's defaults.
  int64_t slowlog_slower_than_us = 10000;
  size_t slowlog_max_len = 128;
  ReadFrom read_from = ReadFrom::kMaster;
  // A replica is read from while its master sees it acknowledge within this.
  int replica_max_lag_s = 2;
  int replica_check_interval_ms = 200;
  // A request touching a key the mover holds (moving it in chunks) waits
  // this long for a topology that lifts the hold, then answers -TRYAGAIN.
  int hold_timeout_ms = 10000;
  // Following a ConfigServer: writes are refused (-CLUSTERDOWN) once no poll
  // sent within this long has succeeded (docs/proxy.md, "Fences and the
  // ConfigServer lease"). 0: never refused.
  int configserver_lease_ms = 5000;
  // HELLO 3 is answered (RESP3, docs/proxy.md "RESP3"); off: -NOPROTO, and
  // clients stay on RESP2.
  bool resp3 = true;
  BackendOptions backend;
};

}  // namespace redkube::proxy
