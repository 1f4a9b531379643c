#include "proxy/config_commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <vector>

#include "core/config_parameters.h"
#include "core/reply_scanner.h"
#include "core/strings.h"
#include "proxy/backend_pool.h"
#include "proxy/config_relay.h"
#include "proxy/event_loop.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_context.h"
#include "proxy/resp_forms.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

using Argv = std::span<const std::string_view>;

constexpr int64_t kDifferenceLogEveryMs = 60000;

// CONFIG GET replies as name -> value; false if `reply` is no array (RESP2)
// or map (RESP3) of bulk strings in pairs.
bool ParsePairs(std::string_view reply, std::map<std::string_view, std::string_view>* out) {
  std::vector<std::string_view> elements;
  if (!SplitAggregate(reply, &elements) || elements.size() % 2 != 0) return false;
  for (size_t i = 0; i + 1 < elements.size(); i += 2) {
    std::string_view name, value;
    if (!ParseStringReply(elements[i], &name) || !ParseStringReply(elements[i + 1], &value)) return false;
    (*out)[name] = value;
  }
  return true;
}

// The proxy's counters that CONFIG RESETSTAT zeroes, as redis-server zeroes
// its own: totals of connections, commands, bytes and refusals. Gauges
// (connected clients) and client ids stay.
void ResetProxyCounters(ProxyStats* s) {
  for (auto* counter : {&s->total_connections, &s->rejected_connections, &s->total_commands,
                        &s->protocol_errors, &s->bytes_in, &s->bytes_out, &s->output_limit_disconnects,
                        &s->idle_disconnects, &s->subscriptions_restored, &s->scans_restarted}) {
    counter->store(0, std::memory_order_relaxed);
  }
}

}  // namespace

std::string FirstConfigDifference(std::string_view first, std::string_view other) {
  std::map<std::string_view, std::string_view> a, b;
  if (!ParsePairs(first, &a) || !ParsePairs(other, &b)) return "";
  for (const auto& [name, value] : a) {
    if (ConfigParameterDiffersPerServer(name)) continue;
    auto it = b.find(name);
    if (it == b.end() || it->second == value) continue;
    return fmt::format("{} is '{}' on the first shard's master, '{}' here", name, value, it->second);
  }
  return "";
}

void MergeConfigGetReplies(std::span<const std::string> parts, std::string* out) {
  if (parts.empty()) {
    out->assign("*0\r\n");
    return;
  }
  static std::atomic<int64_t> next_log_ms{0};
  const int64_t now = EventLoop::MonotonicMs();
  if (parts.size() > 1 && now >= next_log_ms.load(std::memory_order_relaxed)) {
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string difference = FirstConfigDifference(parts[0], parts[i]);
      if (difference.empty()) continue;
      next_log_ms.store(now + kDifferenceLogEveryMs, std::memory_order_relaxed);
      spdlog::warn(
          "CONFIG GET: the masters are not configured alike (shard {} of the topology: {}); answering "
          "the first shard's (logged at most once a minute)",
          i, difference);
      break;
    }
  }
  out->assign(parts[0]);
}

void ConfigSetCommand(RequestContext& ctx, Argv argv) {
  // As redis-server: CONFIG SET p v [p v ...].
  if (argv.size() < 4 || argv.size() % 2 != 0) {
    return ctx.replies.Add("-ERR wrong number of arguments for 'config|set' command\r\n");
  }
  ConfigRelay::Settings settings;
  for (size_t i = 2; i + 1 < argv.size(); i += 2) {
    std::optional<std::string> name = NormalizedConfigParameter(argv[i]);
    if (!name) {
      return ctx.replies.Add(fmt::format(
          "-ERR Unknown option or number of arguments for CONFIG SET - '{}'\r\n", OneLine(argv[i])));
    }
    if (auto why = ConfigParameterRefusal(*name)) {
      return ctx.replies.Add(
          fmt::format("-ERR CONFIG SET {} is not allowed through the redkube proxy: {}\r\n", *name, *why));
    }
    settings.emplace_back(std::move(*name), std::string(argv[i + 1]));
  }
  ConfigRelay* relay = ctx.worker.server->config_relay();
  if (relay == nullptr) {
    return ctx.replies.Add(
        "-ERR CONFIG SET is not supported by a proxy started with --topology: without a ConfigServer "
        "nothing would apply it to every server and keep it; run it on each server directly\r\n");
  }
  // The reply slot is opened now, so the client's replies stay in order;
  // the answer comes back on this worker's thread. If the client has gone
  // by then, DeliverReply just frees the slot (its queue is null).
  PendingReply* pending = ctx.replies.Open(1);
  EventLoop* loop = ctx.worker.loop;
  PendingReplyPool* pool = ctx.worker.pending_pool;
  relay->Submit(std::move(settings), [loop, pool, pending](std::string reply) {
    loop->Post([pool, pending, reply = std::move(reply)] { DeliverReply(pending, 0, reply, pool); });
  });
}

void ConfigResetStatCommand(RequestContext& ctx, Argv argv) {
  if (argv.size() != 2)
    return ctx.replies.Add("-ERR wrong number of arguments for 'config|resetstat' command\r\n");
  ProxyServer* server = ctx.worker.server;
  ResetProxyCounters(server->stats());
  // Each worker zeroes its own counters, on its own thread (they are
  // written there without locked instructions).
  for (const auto& worker : server->workers()) {
    worker->Post([](WorkerContext& w) { w.recorder->stats().Reset(); });
  }
  const int shards = ctx.router().shard_count();
  PendingReply* p = ctx.replies.OpenMerged(ReplyMerger::Kind::kAllOk, static_cast<uint32_t>(shards));
  static constexpr std::string_view kResetStat = "*2\r\n$6\r\nCONFIG\r\n$9\r\nRESETSTAT\r\n";
  for (int i = 0; i < shards; ++i) {
    ctx.worker.backends->Master(i)->StartRequest(p, static_cast<uint32_t>(i))->Append(kResetStat);
  }
}

void ConfigRewriteCommand(RequestContext& ctx, Argv) {
  ctx.replies.Add(
      "-ERR CONFIG REWRITE is not supported through the redkube proxy: settings made with CONFIG SET "
      "through the proxy are kept by the ConfigServer and given to every server it starts (restarts, "
      "failovers, new shards), so there is no file to rewrite\r\n");
}

void ConfigHelpCommand(RequestContext& ctx, Argv) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values,",
      "    as the first shard's master has them (every server is configured alike).",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value> on every server of the cluster",
      "    (all or none); the ConfigServer keeps it for the servers it starts later.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command, on every master and the proxy.",
      "REWRITE",
      "    Refused: the ConfigServer keeps the settings made through the proxy.",
      "HELP",
      "    Print this help.",
  };
  ctx.replies.Add(HelpReply(kLines));
}

}  // namespace redkube::proxy
