// Which proxies follow a cluster and which topology epoch each has applied
// (every worker thread of it), as they report on each topology long-poll
// (`proxy=ID&applied=EPOCH`). The mover starts a step only once every live
// proxy has applied the epoch that announced it (docs/migration.md).
//
// Reports live in etcd (/redkube/proxies/CLUSTER/ID -> {"epoch", "seen_ms"})
// because a proxy may poll any ConfigServer instance while the leader's
// mover reads them all. A report is written when its epoch changes, and at
// most every `refresh` otherwise (a proxy polls at least every 10 s), so a
// quiet cluster costs a few writes a minute per proxy. A proxy not seen for
// `expiry` is gone: it is no longer waited for. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "configserver/etcd_client.h"
#include "core/status.h"

namespace redkube::configserver {

struct ProxyReport {
  std::string id;
  uint64_t epoch = 0;
  int64_t seen_ms = 0;  // wall clock, ms since the Unix epoch
};

class ProxyRegistry {
 public:
  static constexpr const char* kPrefix = "/redkube/proxies/";

  ProxyRegistry(const EtcdClient* etcd, std::chrono::milliseconds expiry,
                std::chrono::milliseconds refresh = std::chrono::seconds(5));

  // Whether `id` is acceptable as a proxy name (1-200 printable ASCII).
  static bool ValidId(const std::string& id);

  // Records that proxy `id` of `cluster` has applied `epoch`, now.
  Status Report(const std::string& cluster, const std::string& id, uint64_t epoch);

  // Every proxy of `cluster` seen within the expiry.
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
