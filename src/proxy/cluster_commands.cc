// How the proxies present themselves to cluster-mode clients.
//
// Every proxy serves every slot: it routes each key to its shard itself.
// So any presentation that names only proxies as nodes is correct for
// keyed commands, and the question is how to present them. Each proxy
// presents ITSELF as the primary of all 16384 slots and the other live
// proxies (the ConfigServer's list, ProxyListWatcher) as its replicas.
//
// Why not N primaries, each with a share of the slots? Cluster clients run
// the keyspace-wide commands (SCAN, KEYS, DBSIZE, FLUSHALL, RANDOMKEY) on
// every primary and combine the answers: with N proxies as N primaries,
// each of which answers for the whole keyspace, a client would count every
// key N times and SCAN would yield each key N times. With one primary those
// commands go to one proxy, which covers every shard once.
//
// Load still spreads: clients configured to read from replicas (READONLY:
// redis-py read_from_replicas, go-redis ReadOnly/RouteRandomly, ioredis
// scaleReads, Jedis) send reads to the other proxies, and each application
// instance starts from the proxy it was pointed at (through a Service, a
// different one per connection). READONLY and READWRITE answer +OK and
// change nothing: any proxy serves reads and writes of any slot. ASKING is
// +OK too, and no MOVED or ASK ever reaches a client: the proxy serves
// every slot, whatever shard holds it or is importing it.
//
// The node ids are the SHA-1 of the proxies' ids (ClusterNodeId), the same
// on every proxy and across restarts. This proxy's address is its
// --announce-address, else the address the asking client connected to.
#include "proxy/cluster_commands.h"

#include <fmt/format.h>

#include <cctype>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "core/strings.h"
#include "proxy/cluster_presentation.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_context.h"
#include "proxy/resp_forms.h"
#include "proxy/slot_keys_scan.h"

namespace redkube::proxy {
namespace {

using Argv = std::span<const std::string_view>;

constexpr std::string_view kNotInteger = "-ERR value is not an integer or out of range\r\n";

HostPort SelfAddress(const RequestContext& c) {
  const ProxyOptions& options = *c.worker.options;
  if (!options.announce_address.empty()) {
    if (auto announced = ParseHostPort(options.announce_address); announced.ok()) return announced.value();
  }
  if (auto local = ParseHostPort(c.client.local); local.ok()) return local.value();
  return HostPort{options.bind, options.port};
}

ClusterPresentation Present(const RequestContext& c) {
  return ClusterPresentation(c.worker.options->id, SelfAddress(c), *c.worker.server->proxy_list(),
                             c.router().topology().epoch());
}

std::string Bulk(std::string_view s) {
  std::string out;
  AppendBulk(&out, s);
  return out;
}

void Info(RequestContext& c, Argv) { c.replies.Add(TextReply(Present(c).InfoText(), c.client.resp)); }
void Slots(RequestContext& c, Argv) { c.replies.Add(Present(c).SlotsReply()); }
void Shards(RequestContext& c, Argv) { c.replies.Add(Present(c).ShardsReply(c.client.resp)); }
void Nodes(RequestContext& c, Argv) { c.replies.Add(TextReply(Present(c).NodesText(), c.client.resp)); }
void Replicas(RequestContext& c, Argv argv) { c.replies.Add(Present(c).ReplicasReply(argv[2])); }
void MyId(RequestContext& c, Argv) { c.replies.Add(Bulk(ClusterNodeId(c.worker.options->id))); }
void KeySlotOf(RequestContext& c, Argv argv) { c.replies.Add(fmt::format(":{}\r\n", KeySlot(argv[2]))); }
void Ok(RequestContext& c, Argv) { c.replies.Add("+OK\r\n"); }

void CountKeysInSlot(RequestContext& c, Argv argv) {
  std::optional<int64_t> slot = ParseInt64(argv[2]);
  if (!slot) return c.replies.Add(kNotInteger);
  if (*slot < 0 || *slot >= kSlotCount) return c.replies.Add("-ERR Invalid slot\r\n");
  SlotKeysScan::OfWorker(&c.worker).Start(c, static_cast<uint16_t>(*slot), -1);
}

void GetKeysInSlot(RequestContext& c, Argv argv) {
  std::optional<int64_t> slot = ParseInt64(argv[2]);
  std::optional<int64_t> count = ParseInt64(argv[3]);
  if (!slot || !count) return c.replies.Add(kNotInteger);
  if (*slot < 0 || *slot >= kSlotCount || *count < 0) {
    return c.replies.Add("-ERR Invalid slot or number of keys\r\n");
  }
  SlotKeysScan::OfWorker(&c.worker).Start(c, static_cast<uint16_t>(*slot), *count);
}

void Help(RequestContext& c, Argv) {
  static constexpr std::string_view kLines[] = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "COUNTKEYSINSLOT <slot>",
      "    Return the number of keys in <slot> (the proxy scans the slot's shard).",
      "GETKEYSINSLOT <slot> <count>",
      "    Return up to <count> key names stored in <slot>.",
      "INFO",
      "    Return information about the cluster.",
      "KEYSLOT <key>",
      "    Return the hash slot for <key>.",
      "MYID",
      "    Return the node id.",
      "NODES",
      "    Return cluster configuration seen by node. Output format:",
      "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
      "REPLICAS <node-id>",
      "    Return <node-id> replicas.",
      "SLOTS",
      "    Return information about slots range mappings. Each range is made of:",
      "    start, end, master and replicas IP addresses, ports and ids",
      "SHARDS",
      "    Return information about slot range mappings and the nodes associated with them.",
      "HELP",
      "    Prints this help.",
      "(redkube: this proxy presents itself as the primary of every slot and the other live",
      "proxies as its replicas; slots and nodes are managed by the ConfigServer.)",
  };
  c.replies.Add(HelpReply(kLines));
}

// The CLUSTER subcommands that change a Redis Cluster.
void RefuseAdministration(RequestContext& c, Argv argv) {
  std::string sub(argv[1]);
  for (char& ch : sub) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  c.replies.Add(
      fmt::format("-ERR CLUSTER {} is not supported through the redkube proxy: redkube's ConfigServer "
                  "assigns slots and nodes, and the proxies, which serve every slot, have no cluster bus\r\n",
                  sub));
}

}  // namespace

LocalCommand FindClusterCommand(std::string_view full_name) {
  static const auto* table = new std::unordered_map<std::string_view, LocalCommand>{
      {"cluster|info", Info},
      {"cluster|slots", Slots},
      {"cluster|shards", Shards},
      {"cluster|nodes", Nodes},
      {"cluster|replicas", Replicas},
      {"cluster|slaves", Replicas},
      {"cluster|myid", MyId},
      {"cluster|keyslot", KeySlotOf},
      {"cluster|countkeysinslot", CountKeysInSlot},
      {"cluster|getkeysinslot", GetKeysInSlot},
      {"cluster|help", Help},
      {"readonly", Ok},
      {"readwrite", Ok},
      {"asking", Ok},
      {"cluster|addslots", RefuseAdministration},
      {"cluster|addslotsrange", RefuseAdministration},
      {"cluster|bumpepoch", RefuseAdministration},
      {"cluster|count-failure-reports", RefuseAdministration},
      {"cluster|delslots", RefuseAdministration},
      {"cluster|delslotsrange", RefuseAdministration},
      {"cluster|failover", RefuseAdministration},
      {"cluster|flushslots", RefuseAdministration},
      {"cluster|forget", RefuseAdministration},
      {"cluster|links", RefuseAdministration},
      {"cluster|meet", RefuseAdministration},
      {"cluster|replicate", RefuseAdministration},
      {"cluster|reset", RefuseAdministration},
      {"cluster|saveconfig", RefuseAdministration},
      {"cluster|set-config-epoch", RefuseAdministration},
      {"cluster|setslot", RefuseAdministration},
  };
  auto it = table->find(full_name);
  return it == table->end() ? nullptr : it->second;
}

}  // namespace redkube::proxy
