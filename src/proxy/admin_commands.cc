#include "proxy/admin_commands.h"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "core/reply_scanner.h"
#include "core/strings.h"
#include "proxy/admin_replies.h"
#include "proxy/backend_pool.h"
#include "proxy/command_stats.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"
#include "proxy/request_context.h"
#include "proxy/resp_forms.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

// The request as it came, to every master, on connections that speak the
// client's protocol (so a RESP3 client's merge reads and gives RESP3 forms);
// the replies merged by `kind` (and `custom` for kCustom), each labelled by
// its shard's id.
void ToEveryMaster(RequestContext& ctx, AdminArgv argv, ReplyMerger::Kind kind,
                   ReplyMerger::CustomMerge custom = nullptr) {
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(kind, static_cast<uint32_t>(shards));
  p->merger->custom = custom;
  for (int i = 0; i < shards; ++i) p->merger->part_labels.push_back(ctx.router().shard(i).id);
  for (int i = 0; i < shards; ++i) {
    AppendRequest(ctx.worker.backends->Master(i, ctx.client.resp)->StartRequest(p, static_cast<uint32_t>(i)),
                  argv, {});
  }
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

void LatencyLatest(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kCustom, MergeLatencyLatest);
}

void LatencyHistory(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kCustom, MergeLatencyHistory);
}

void LatencyReset(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kSumIntegers);
}

void LatencyPerShardText(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kCustom, MergeLabelledText);
}

void MemoryStats(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kCustom, MergeMemoryStats);
}

void MemoryPerShardText(RequestContext& ctx, AdminArgv argv) {
  ToEveryMaster(ctx, argv, ReplyMerger::Kind::kCustom, MergeLabelledText);
}

void MemoryPurge(RequestContext& ctx, AdminArgv argv) { ToEveryMaster(ctx, argv, ReplyMerger::Kind::kAllOk); }

void AnyMaster(RequestContext& ctx, AdminArgv argv) {
  AppendRequest(ctx.worker.backends->Master(0, ctx.client.resp)->StartRequest(ctx.replies.Open(1), 0), argv,
                {});
}

void AclWhoami(RequestContext& ctx, AdminArgv) { ctx.replies.Add("$7\r\ndefault\r\n"); }

void AclUsers(RequestContext& ctx, AdminArgv) { ctx.replies.Add("*1\r\n$7\r\ndefault\r\n"); }

void AclRefused(RequestContext& ctx, AdminArgv argv) {
  ctx.replies.Add(
      fmt::format("-ERR ACL {} is not supported through the redkube proxy: the proxy has one user, default, "
                  "whose password is the proxy's --password-file\r\n",
                  Upper(argv[1])));
}

// redis-server's reply shape: {command: {calls: n, histogram_usec: {bucket:
// cumulative count...}}} (maps in RESP3, nested flat arrays in RESP2). The buckets are the
// proxy's histogram's upper bounds (100 us ... 1 s); requests slower than
// 1 s are counted under the largest 64-bit integer. `calls` counts the
// requests timed (those answered by servers). With command names, only
// those (unknown names and commands without calls are left out, as
// redis-server does).
void LatencyHistogramCommand(RequestContext& ctx, AdminArgv argv) {
  const auto specs = CommandIndex::Instance().specs();
  std::vector<bool> wanted(specs.size(), argv.size() <= 2);
  for (size_t a = 2; a < argv.size(); ++a) {
    std::string name(argv[a]);
    for (auto& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i]->name == name) wanted[i] = true;
    }
  }
  std::string body;
  int64_t commands = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!wanted[i]) continue;
    LatencyHistogram::Counts counts{};
    uint64_t sum_us = 0;
    for (const auto& w : ctx.worker.server->workers())
      w->command_stats()[static_cast<uint16_t>(i)].latency.AddTo(&counts, &sum_us);
    uint64_t calls = 0;
    int buckets = 0;
    for (uint64_t c : counts) {
      calls += c;
      if (c > 0) ++buckets;
    }
    if (calls == 0) continue;
    ++commands;
    AppendBulk(&body, specs[i]->name);
    AppendMapHeader(&body, 2, ctx.client.resp);
    AppendBulk(&body, "calls");
    AppendInteger(&body, static_cast<int64_t>(calls));
    AppendBulk(&body, "histogram_usec");
    AppendMapHeader(&body, buckets, ctx.client.resp);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < counts.size(); ++b) {
      cumulative += counts[b];
      if (counts[b] == 0) continue;
      AppendInteger(&body, b < LatencyHistogram::kBoundsUs.size() ? LatencyHistogram::kBoundsUs[b]
                                                                  : std::numeric_limits<int64_t>::max());
      AppendInteger(&body, static_cast<int64_t>(cumulative));
    }
  }
  std::string out;
  AppendMapHeader(&out, commands, ctx.client.resp);
  out += body;
  ctx.replies.Add(out);
}

}  // namespace redkube::proxy
