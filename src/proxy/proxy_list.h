// The live proxies of a cluster as the ConfigServer lists them
// (GET /v1/clusters/NAME/proxies): the nodes a proxy presents to
// cluster-mode clients (ClusterPresentation), each at the address it
// announced. Immutable once built; shared between threads as
// std::shared_ptr<const ProxyList> (ProxyServer::proxy_list()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::proxy {

struct ListedProxy {
  std::string id;       // its --id
  std::string node_id;  // what cluster-mode clients know it by: ClusterNodeId(id)
  HostPort address;     // where clients reach it (its --announce-address)
  uint64_t epoch = 0;   // the topology epoch it last reported applied
  int64_t seen_ms = 0;  // wall clock, ms since the Unix epoch, of its last report
};

class ProxyList {
 public:
  ProxyList() = default;
  explicit ProxyList(std::vector<ListedProxy> proxies);

  // Parses the API's answer, {"proxies": [{"id", "address", "epoch",
  // "seen_ms", ...}, ...]}. Proxies that announce no address (they listen
  // on 0.0.0.0 without --announce-address) cannot be presented and are left
  // out, as are entries without an id; a document of another shape is an
  // error.
  static Result<std::shared_ptr<const ProxyList>> FromJson(std::string_view text);

  // Sorted by id.
  const std::vector<ListedProxy>& proxies() const { return proxies_; }

 private:
  std::vector<ListedProxy> proxies_;
};

// The 40 lowercase hex characters a cluster-mode client knows a proxy by
// (CLUSTER MYID, NODES, SLOTS, SHARDS): the SHA-1 of its id, so that it is
// the same on every proxy and across restarts.
std::string ClusterNodeId(std::string_view proxy_id);

}  // namespace redkube::proxy
