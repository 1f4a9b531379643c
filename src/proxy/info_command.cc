#include "proxy/info_command.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "core/reply_scanner.h"
#include "proxy/backend_pool.h"
#include "proxy/info_merge.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"

namespace redkube::proxy {
namespace {

std::string Seconds(const timeval& t) { return fmt::format("{}.{:06}", t.tv_sec, t.tv_usec); }

// The proxy's own sections and fields (MergeInfo's proxy_text): the "# Proxy"
// section; in Server, Clients, Stats, Replication the fields that describe
// the process a client talks to; CPU (getrusage: the process, and this
// worker thread as the "main thread"); Cluster. topology_epoch is the epoch
// this thread routes by; applied_epoch the one every thread has applied
// (what the proxy reports to the ConfigServer).
std::string ProxyInfoSections(const WorkerContext& worker) {
  const ProxyStats& s = *worker.stats;
  const ProxyOptions& options = *worker.options;
  const Topology& topology = worker.router->topology();
  int64_t uptime_s = (EventLoop::MonotonicMs() - worker.server->start_time_ms()) / 1000;
  timeval now{};
  gettimeofday(&now, nullptr);
  rusage self{}, children{}, thread{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  getrusage(RUSAGE_THREAD, &thread);
  char exe[4096];
  ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string_view executable(exe, exe_len > 0 ? static_cast<size_t>(exe_len) : 0);
  return fmt::format(
      "# Proxy\r\nredkube_version:0.1.0\r\nprocess_id:{}\r\ntcp_port:{}\r\nthreads:{}\r\n"
      "uptime_in_seconds:{}\r\nproxy_id:{}\r\ncluster:{}\r\ntopology_epoch:{}\r\napplied_epoch:{}\r\n"
      "shards:{}\r\nwrites_allowed:{}\r\nconfigserver_last_answer_ms:{}\r\nfenced_shards:{}\r\n"
      "unreachable_masters:{}\r\nproxy_commands_processed:{}\r\nprotocol_errors:{}\r\n"
      "proxy_net_input_bytes:{}\r\nproxy_net_output_bytes:{}\r\n"
      "# Server\r\nredis_mode:cluster\r\nprocess_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\n"
      "uptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\n"
      "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n"
      "# Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\n"
      "# Replication\r\nrole:master\r\n"
      "# "
      "CPU\r\nused_cpu_sys:{}\r\nused_cpu_user:{}\r\nused_cpu_sys_children:{}\r\nused_cpu_user_children:{}"
      "\r\n"
      "used_cpu_sys_main_thread:{}\r\nused_cpu_user_main_thread:{}\r\n"
      "# Cluster\r\ncluster_enabled:1\r\n",
      getpid(), options.port, options.threads, uptime_s, options.id, topology.cluster(), topology.epoch(),
      worker.server->AppliedEpoch(), topology.shards().size(), worker.server->writes_allowed() ? 1 : 0,
      worker.server->MsSinceConfigServerAnswer(), worker.server->FencedShards(),
      worker.server->unreachable_masters(), s.total_commands.load(), s.protocol_errors.load(),
      s.bytes_in.load(), s.bytes_out.load(), getpid(), options.port,
      static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_usec, uptime_s, uptime_s / 86400, executable,
      s.connected_clients.load(), options.max_clients, s.total_connections.load(),
      s.rejected_connections.load(), Seconds(self.ru_stime), Seconds(self.ru_utime),
      Seconds(children.ru_stime), Seconds(children.ru_utime), Seconds(thread.ru_stime),
      Seconds(thread.ru_utime));
}

}  // namespace

void Info(RequestContext& ctx, std::span<const std::string_view> argv) {
  InfoSelection selection(argv.subspan(1));
  std::string own = ProxyInfoSections(ctx.worker);
  if (selection.Wants("commandstats")) own += ctx.worker.server->CommandstatsInfo();
  if (selection.Wants("latencystats")) own += ctx.worker.server->LatencystatsInfo();
  const std::vector<std::string_view> sections = selection.ServerSections();
  if (sections.empty()) {
    // Only the proxy's own sections: no server is asked.
    std::string reply;
    AppendBulk(&reply, MergeInfo(selection, own, {}));
    return ctx.replies.Add(reply);
  }
  // One request per master: "INFO <the server sections needed>".
  std::vector<std::string_view> request{"INFO"};
  request.insert(request.end(), sections.begin(), sections.end());
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(ReplyMerger::Kind::kInfo, static_cast<uint32_t>(shards));
  ReplyMerger& merger = *p->merger;
  merger.info_prefix = std::move(own);
  merger.info_selection = std::move(selection);
  for (int i = 0; i < shards; ++i) {
    AppendRequest(ctx.worker.backends->Master(i, ctx.client.resp)->StartRequest(p, static_cast<uint32_t>(i)),
                  request, {});
  }
}

}  // namespace redkube::proxy
