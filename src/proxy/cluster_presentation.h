// What a proxy tells cluster-mode clients the cluster is: itself the
// primary of all 16384 slots, the other live proxies its replicas (why:
// cluster_commands.cc). Built per CLUSTER request from the proxy's own id
// and address, the list of live proxies and the topology epoch; renders the
// replies of CLUSTER SLOTS, SHARDS, NODES, INFO and REPLICAS in redis-server
// 7.0's layout. Pure: no I/O, no clock (the caller passes what it knows).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/topology.h"
#include "proxy/proxy_list.h"

namespace redkube::proxy {

struct ClusterNode {
  std::string node_id;  // ClusterNodeId of the proxy's id
  HostPort address;
  bool myself = false;
  bool primary = false;  // only myself is
  int64_t pong_ms = 0;   // last report (wall clock ms); 0 for myself, as Redis prints
};

class ClusterPresentation {
 public:
  // `self_id`: this proxy's --id; `self_address`: where clients reach it
  // (its --announce-address, else the address the asking client connected
  // to). Listed proxies at this proxy's id or address are this one (an
  // entry of a previous run may linger until it expires) and are left out.
  ClusterPresentation(std::string_view self_id, const HostPort& self_address, const ProxyList& list,
                      uint64_t epoch);

  // Myself (the primary) first, then the replicas by proxy id.
  const std::vector<ClusterNode>& nodes() const { return nodes_; }
  const ClusterNode& myself() const { return nodes_.front(); }

  // RESP replies.
  std::string SlotsReply() const;
  // resp: the client's protocol (its maps are maps in RESP3).
  std::string ShardsReply(int resp = 2) const;
  // CLUSTER REPLICAS NODE-ID: the replicas' lines, or Redis's error for a
  // node it does not know or one that is no primary.
  std::string ReplicasReply(std::string_view node_id) const;
  // The texts of CLUSTER NODES and CLUSTER INFO (sent as bulk strings).
  std::string NodesText() const;
  std::string InfoText() const;
  // One line of CLUSTER NODES, without its newline.
  std::string NodeLine(const ClusterNode& node) const;

 private:
  uint64_t epoch_;
  std::vector<ClusterNode> nodes_;
};

}  // namespace redkube::proxy
