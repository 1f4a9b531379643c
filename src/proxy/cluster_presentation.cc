#include "proxy/cluster_presentation.h"

#include <fmt/format.h>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "core/strings.h"
#include "proxy/resp_forms.h"

namespace redkube::proxy {
namespace {

constexpr int kLastSlot = kSlotCount - 1;

// [ip, port, id, metadata]: redis-server 7.0's node entry of CLUSTER SLOTS
// (an empty metadata array: no hostname is announced).
void AppendSlotsNode(std::string* out, const ClusterNode& node) {
  AppendArrayHeader(out, 4);
  AppendBulk(out, node.address.host);
  AppendInteger(out, node.address.port);
  AppendBulk(out, node.node_id);
  AppendArrayHeader(out, 0);
}

// One node's map of CLUSTER SHARDS, as redis-server 7.0 lists its fields
// (a flat array of pairs in RESP2, a map in RESP3). No proxy replicates
// anything: the replication offset reads 0.
void AppendShardsNode(std::string* out, const ClusterNode& node, int resp) {
  AppendMapHeader(out, 7, resp);
  AppendBulk(out, "id");
  AppendBulk(out, node.node_id);
  AppendBulk(out, "port");
  AppendInteger(out, node.address.port);
  AppendBulk(out, "ip");
  AppendBulk(out, node.address.host);
  AppendBulk(out, "endpoint");
  AppendBulk(out, node.address.host);
  AppendBulk(out, "role");
  AppendBulk(out, node.primary ? "master" : "replica");
  AppendBulk(out, "replication-offset");
  AppendInteger(out, 0);
  AppendBulk(out, "health");
  AppendBulk(out, "online");
}

}  // namespace

ClusterPresentation::ClusterPresentation(std::string_view self_id, const HostPort& self_address,
                                         const ProxyList& list, uint64_t epoch)
    : epoch_(epoch) {
  nodes_.push_back({ClusterNodeId(self_id), self_address, /*myself=*/true, /*primary=*/true, 0});
  for (const ListedProxy& p : list.proxies()) {
    if (p.id == self_id || p.address == self_address) continue;
    nodes_.push_back({p.node_id, p.address, false, false, p.seen_ms});
  }
}

std::string ClusterPresentation::SlotsReply() const {
  std::string out;
  AppendArrayHeader(&out, 1);
  AppendArrayHeader(&out, 2 + static_cast<int64_t>(nodes_.size()));
  AppendInteger(&out, 0);
  AppendInteger(&out, kLastSlot);
  for (const ClusterNode& node : nodes_) AppendSlotsNode(&out, node);
  return out;
}

std::string ClusterPresentation::ShardsReply(int resp) const {
  std::string out;
  AppendArrayHeader(&out, 1);
  AppendMapHeader(&out, 2, resp);
  AppendBulk(&out, "slots");
  AppendArrayHeader(&out, 2);
  AppendInteger(&out, 0);
  AppendInteger(&out, kLastSlot);
  AppendBulk(&out, "nodes");
  AppendArrayHeader(&out, static_cast<int64_t>(nodes_.size()));
  for (const ClusterNode& node : nodes_) AppendShardsNode(&out, node, resp);
  return out;
}

std::string ClusterPresentation::NodeLine(const ClusterNode& node) const {
  // <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv>
  // <config-epoch> <link-state> <slot>...: proxies have no cluster bus,
  // hence bus port 0.
  std::string flags = node.myself ? "myself," : "";
  flags += node.primary ? "master" : "slave";
  std::string line =
      fmt::format("{} {}:{}@0 {} {} 0 {} {} connected", node.node_id, node.address.host, node.address.port,
                  flags, node.primary ? "-" : myself().node_id, node.pong_ms, epoch_);
  if (node.primary) line += fmt::format(" 0-{}", kLastSlot);
  return line;
}

std::string ClusterPresentation::NodesText() const {
  std::string out;
  for (const ClusterNode& node : nodes_) {
    out += NodeLine(node);
    out += '\n';
  }
  return out;
}

std::string ClusterPresentation::ReplicasReply(std::string_view node_id) const {
  const ClusterNode* found = nullptr;
  for (const ClusterNode& node : nodes_) {
    if (node.node_id == node_id) found = &node;
  }
  if (found == nullptr) return fmt::format("-ERR Unknown node {}\r\n", OneLine(node_id));
  if (!found->primary) return "-ERR The specified node is not a master\r\n";
  std::string out;
  AppendArrayHeader(&out, static_cast<int64_t>(nodes_.size() - 1));
  for (const ClusterNode& node : nodes_) {
    if (!node.primary) AppendBulk(&out, NodeLine(node));
  }
  return out;
}

std::string ClusterPresentation::InfoText() const {
  // redis-server 7.0's fields, in its order; the message counters are those
  // of a node that has sent and received none (it prints the per-type ones
  // only when not 0).
  return fmt::format(
      "cluster_state:ok\r\n"
      "cluster_slots_assigned:{0}\r\n"
      "cluster_slots_ok:{0}\r\n"
      "cluster_slots_pfail:0\r\n"
      "cluster_slots_fail:0\r\n"
      "cluster_known_nodes:{1}\r\n"
      "cluster_size:1\r\n"
      "cluster_current_epoch:{2}\r\n"
      "cluster_my_epoch:{2}\r\n"
      "cluster_stats_messages_sent:0\r\n"
      "cluster_stats_messages_received:0\r\n"
      "total_cluster_links_buffer_limit_exceeded:0\r\n",
      kSlotCount, nodes_.size(), epoch_);
}

}  // namespace redkube::proxy
