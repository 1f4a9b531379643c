// Which proxies follow a cluster and which topology epoch each has applied
// (every worker thread of it), as they report on each topology long-poll
// (`proxy=ID&applied=EPOCH`). The mover starts a step only once every live
// proxy has applied the epoch that announced it (docs/migration.md).
//
// Proxies are also the failover's witnesses (docs/configserver.md,
// "Partition-safe failover"): each report lists the masters the proxy
// cannot reach (`unreachable=ADDR~MS,...`, MS since it last reached each),
// and the leader fails a master over only when every live witness has
// lost it too; before promoting it fences the shard and waits for every
// live proxy to confirm that epoch.
//
// A report may also carry the address clients reach the proxy at
// (`address=HOST:PORT`, its --announce-address): the list of live proxies
// with their addresses (GET /v1/clusters/NAME/proxies) is what the proxies
// present to cluster-mode clients as the cluster's nodes (docs/proxy.md,
// "Cluster-mode clients").
//
// Reports live in etcd (/redkube/proxies/CLUSTER/ID -> {"epoch", "seen_ms",
// "witness", "unreachable": {ADDR: since_ms}, "address"}) because a proxy may poll any
// ConfigServer instance while the leader reads them all. A report is
// written when its epoch or its set of unreachable masters changes, and at
// most every `refresh` otherwise (a proxy polls about once a second).
//
// A proxy not seen for `expiry` is gone: it is no longer waited for. That
// is safe only because a proxy refuses writes once it has had no
// successful poll for its lease (5 s, counted from the poll's send time),
// and a poll succeeds only once its report is in etcd: `seen_ms` is at
// most `refresh` older than the proxy's last successful poll, so expiry
// must be at least lease + refresh (+ a margin for clocks): 5 + 1 + 1 = 7 s
// by default. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "configserver/etcd_client.h"
#include "core/status.h"

namespace redkube::configserver {

struct ProxyReport {
  std::string id;
  uint64_t epoch = 0;
  int64_t seen_ms = 0;  // wall clock, ms since the Unix epoch
  // Whether the proxy reports reachability at all (older proxies do not:
  // they are waited for, but witness nothing).
  bool witness = false;
  // Masters ("host:port") it cannot reach -> when it last reached each
  // (wall clock ms).
  std::map<std::string, int64_t> unreachable;
  // "host:port" clients reach it at; empty when it announces none.
  std::string address;

  bool Reaches(const std::string& master) const { return witness && unreachable.count(master) == 0; }
};

class ProxyRegistry {
 public:
  static constexpr const char* kPrefix = "/redkube/proxies/";

  ProxyRegistry(const EtcdClient* etcd, std::chrono::milliseconds expiry,
                std::chrono::milliseconds refresh = std::chrono::seconds(5));

  // Whether `id` is acceptable as a proxy name (1-200 printable ASCII).
  static bool ValidId(const std::string& id);

  // Records that proxy `id` of `cluster` has applied `epoch`, now,
  // (`witness`) which masters it cannot reach, and the address it announces
  // (empty: none). A change of address is written at once.
  Status Report(const std::string& cluster, const std::string& id, uint64_t epoch, bool witness = false,
                const std::map<std::string, int64_t>& unreachable = {}, const std::string& address = "");
  // Parses a report's `unreachable` parameter ("ADDR~MS,ADDR~MS", maybe
  // empty) into ADDR -> now_ms - MS; nullopt when malformed.
  static std::optional<std::map<std::string, int64_t>> ParseUnreachable(std::string_view text,
                                                                        int64_t now_ms);

  // Every proxy of `cluster` seen within the expiry, sorted by id.
  Result<std::vector<ProxyReport>> Live(const std::string& cluster) const;

  std::chrono::milliseconds expiry() const { return expiry_; }

 private:
  const EtcdClient* etcd_;
  std::chrono::milliseconds expiry_;
  std::chrono::milliseconds refresh_;
  std::mutex mu_;
  std::map<std::string, ProxyReport> written_;  // what this instance last wrote, by etcd key
};

}  // namespace redkube::configserver
