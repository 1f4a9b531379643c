#include "proxy/info_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <vector>

#include "proxy/backend_pool.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"

namespace redkube::proxy {
namespace {

// Keeps the "# Name" sections of `text` whose lower-cased name `wanted` accepts.
template <typename Pred>
std::string FilterInfoSections(std::string_view text, Pred wanted) {
  std::string out;
  bool keep = false;
  while (!text.empty()) {
    size_t eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol == std::string_view::npos ? text.size() : eol + 2);
    if (line.starts_with("# ")) {
      std::string name(line.substr(2, line.find('\r') - 2));
      for (auto& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      keep = wanted(name);
    }
    if (keep) out.append(line);
    if (eol == std::string_view::npos) break;
    text = text.substr(eol + 2);
  }
  return out;
}

// The proxy's own Proxy, Clients and Stats sections. topology_epoch is the
// epoch this thread routes by; applied_epoch the one every thread has
// applied (what the proxy reports to the ConfigServer).
std::string ProxyInfoSections(const WorkerContext& worker) {
  const ProxyStats& s = *worker.stats;
  const ProxyOptions& options = *worker.options;
  const Topology& topology = worker.router->topology();
  int64_t uptime_s = (EventLoop::MonotonicMs() - worker.server->start_time_ms()) / 1000;
  return fmt::format(
      "# Proxy\r\nredkube_version:0.1.0\r\nprocess_id:{}\r\ntcp_port:{}\r\nthreads:{}\r\n"
      "uptime_in_seconds:{}\r\nproxy_id:{}\r\ncluster:{}\r\ntopology_epoch:{}\r\napplied_epoch:{}\r\n"
      "shards:{}\r\nwrites_allowed:{}\r\nconfigserver_last_answer_ms:{}\r\nfenced_shards:{}\r\n"
      "unreachable_masters:{}\r\n\r\n"
      "# Clients\r\nconnected_clients:{}\r\n\r\n"
      "# Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\n"
      "total_commands_processed:{}\r\nprotocol_errors:{}\r\n\r\n",
      getpid(), options.port, options.threads, uptime_s, options.id, topology.cluster(), topology.epoch(),
      worker.server->AppliedEpoch(), topology.shards().size(), worker.server->writes_allowed() ? 1 : 0,
      worker.server->MsSinceConfigServerAnswer(), worker.server->FencedShards(),
      worker.server->unreachable_masters(), s.connected_clients.load(), s.total_connections.load(),
      s.rejected_connections.load(), s.total_commands.load(), s.protocol_errors.load());
}

}  // namespace

void Info(RequestContext& ctx, std::span<const std::string_view> argv) {
  std::vector<std::string> asked;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string a(argv[i]);
    for (auto& c : a) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    asked.push_back(std::move(a));
  }
  if (asked.empty()) asked.push_back("default");
  auto wants = [&](std::string_view section) {
    for (const auto& a : asked) {
      if (a == section || a == "default" || a == "all" || a == "everything") return true;
    }
    return false;
  };
  // As in Redis, commandstats and latencystats are not default sections.
  auto wants_explicitly = [&](std::string_view section) {
    for (const auto& a : asked) {
      if (a == section || a == "all" || a == "everything") return true;
    }
    return false;
  };
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(ReplyMerger::Kind::kInfo, static_cast<uint32_t>(shards));
  ReplyMerger& merger = *p->merger;
  merger.info_prefix = FilterInfoSections(ProxyInfoSections(ctx.worker), wants);
  if (wants_explicitly("commandstats")) merger.info_prefix += ctx.worker.server->CommandstatsInfo();
  if (wants_explicitly("latencystats")) merger.info_prefix += ctx.worker.server->LatencystatsInfo();
  merger.info_server = wants("server");
  merger.info_keyspace = wants("keyspace");
  static constexpr std::string_view kInfoServerKeyspace[] = {"INFO", "server", "keyspace"};
  for (int i = 0; i < shards; ++i) {
    AppendRequest(ctx.worker.backends->Master(i, ctx.client.resp)->StartRequest(p, static_cast<uint32_t>(i)),
                  kInfoServerKeyspace, {});
  }
}

}  // namespace redkube::proxy
