#include "proxy/client_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <unordered_map>

#include "core/reply_scanner.h"
#include "core/strings.h"
#include "proxy/across_workers.h"
#include "proxy/backend_connection.h"
#include "proxy/client_backends.h"
#include "proxy/client_listing.h"
#include "proxy/client_session.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_mode.h"
#include "proxy/reply_queue.h"
#include "proxy/request_context.h"
#include "proxy/resp_forms.h"
#include "proxy/routing_table.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

using Argv = std::span<const std::string_view>;

constexpr std::string_view kSyntaxError = "-ERR syntax error\r\n";

// CLIENT LIST's lines, gathered from every worker, sorted by id (the order
// redis-server lists its clients in: by connection), or in the order of
// the ids asked for.
void ListMatching(RequestContext& c, std::shared_ptr<const ClientFilter> filter) {
  const int resp = c.client.resp;  // the asker's protocol: verbatim text in RESP3
  AnswerAcrossWorkers(
      c,
      [filter](WorkerContext& worker) {
        // "<id> <line>\n" per client: the id sorts the lines on the asker.
        std::string part;
        const int64_t now = worker.loop->now_ms();
        for (const auto& [session, owned] : *worker.clients) {
          const ClientState& s = session->state();
          if (!filter->Matches(s, now)) continue;
          part += fmt::format("{} {}\n", s.id, ClientInfoLine(s, session->view(), now));
        }
        return part;
      },
      [filter, resp](WorkerContext&, std::vector<std::string>& parts) {
        std::vector<std::pair<uint64_t, std::string_view>> lines;
        for (const std::string& part : parts) {
          std::string_view rest = part;
          while (!rest.empty()) {
            size_t end = rest.find('\n');
            std::string_view line = rest.substr(0, end + 1);
            rest.remove_prefix(end + 1);
            size_t space = line.find(' ');
            uint64_t id = 0;
            std::from_chars(line.data(), line.data() + space, id);
            lines.emplace_back(id, line.substr(space + 1));
          }
        }
        auto rank = [&](uint64_t id) {
          if (filter->ids.empty()) return id;
          return static_cast<uint64_t>(std::find(filter->ids.begin(), filter->ids.end(), id) -
                                       filter->ids.begin());
        };
        std::sort(lines.begin(), lines.end(),
                  [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
        std::string text;
        for (const auto& [id, line] : lines) text += line;
        return AcrossWorkersReply{TextReply(text, resp)};
      });
}

// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
void ClientList(RequestContext& c, Argv argv) {
  auto filter = std::make_shared<ClientFilter>();
  if (argv.size() == 4 && EqualsIgnoreCase(argv[2], "type")) {
    filter->type = ClientTypeByName(argv[3]);
    if (!filter->type)
      return c.replies.Add(fmt::format("-ERR Unknown client type '{}'\r\n", OneLine(argv[3])));
  } else if (argv.size() > 3 && EqualsIgnoreCase(argv[2], "id")) {
    for (size_t i = 3; i < argv.size(); ++i) {
      std::optional<int64_t> id = ParseInt64(argv[i]);
      if (!id) return c.replies.Add("-ERR Invalid client ID\r\n");
      if (*id > 0) filter->ids.push_back(static_cast<uint64_t>(*id));
    }
    if (filter->ids.empty()) return c.replies.Add(TextReply("", c.client.resp));
  } else if (argv.size() != 2) {
    return c.replies.Add(kSyntaxError);
  }
  ListMatching(c, std::move(filter));
}

// The asking client's own line: its worker alone knows it.
void ClientInfo(RequestContext& c, Argv) {
  ClientConnectionView view;
  view.blocked = c.replies.Blocked();
  std::string out;
  AppendText(&out, ClientInfoLine(c.client, view, c.worker.loop->now_ms()) + "\n",
             c.client.resp);  // verbatim in RESP3
  c.replies.Add(out);
}

// CLIENT KILL addr:port | [ID id] [TYPE type] [ADDR addr] [LADDR addr]
// [USER user] [SKIPME yes|no] [MAXAGE seconds], over every worker. A match
// on the asker itself (SKIPME no, or the old form) closes it after the reply,
// as redis-server does.
void ClientKill(RequestContext& c, Argv argv) {
  auto filter = std::make_shared<ClientFilter>();
  bool old_form = false;
  if (auto error = ParseKillFilter(argv, c.client.id, filter.get(), &old_form)) return c.replies.Add(*error);
  const uint64_t asker = c.client.id;
  AnswerAcrossWorkers(
      c,
      [filter, asker](WorkerContext& worker) {
        // "<killed> <1 if the asker matched>"
        int64_t killed = 0;
        bool asker_matched = false;
        const int64_t now = worker.loop->now_ms();
        for (const auto& [session, owned] : *worker.clients) {
          if (!filter->Matches(session->state(), now)) continue;
          ++killed;
          if (session->state().id == asker) {
            asker_matched = true;  // closed once its reply is written
          } else {
            session->Close();
          }
        }
        return fmt::format("{} {}", killed, asker_matched ? 1 : 0);
      },
      [old_form](WorkerContext&, std::vector<std::string>& parts) {
        int64_t killed = 0;
        bool asker_matched = false;
        for (const std::string& part : parts) {
          int64_t n = 0;
          auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
          killed += n;
          asker_matched |= end + 1 < part.data() + part.size() && end[1] == '1';
        }
        AcrossWorkersReply answer;
        if (old_form) {
          answer.reply = killed == 0 ? "-ERR No such client\r\n" : "+OK\r\n";
        } else {
          answer.reply = fmt::format(":{}\r\n", killed);
        }
        answer.close_after = asker_matched;
        return answer;
      });
}

// CLIENT REPLY ON|OFF|SKIP (reply_mode.h).
void ClientReply(RequestContext& c, Argv argv) {
  uint8_t& mode = c.client.reply_mode;
  if (EqualsIgnoreCase(argv[2], "on")) {
    mode &= kMonitoring;  // ON ends OFF and SKIP, not MONITOR (only RESET does)
    c.replies.Add("+OK\r\n");
  } else if (EqualsIgnoreCase(argv[2], "off")) {
    mode |= kReplyOff;
  } else if (EqualsIgnoreCase(argv[2], "skip")) {
    if (!(mode & kReplyOff)) mode |= kReplySkipNext;
  } else {
    c.replies.Add(kSyntaxError);
  }
}

// ON|OFF into *flag, +OK; a syntax error otherwise.
void SetOnOff(RequestContext& c, std::string_view value, bool* flag) {
  if (EqualsIgnoreCase(value, "on")) {
    *flag = true;
  } else if (EqualsIgnoreCase(value, "off")) {
    *flag = false;
  } else {
    return c.replies.Add(kSyntaxError);
  }
  c.replies.Add("+OK\r\n");
}

// Recorded and shown (flags e, T); the servers see the proxy's connections,
// not the client, so neither changes what they do (docs/proxy.md).
void ClientNoEvict(RequestContext& c, Argv argv) { SetOnOff(c, argv[2], &c.client.no_evict); }
void ClientNoTouch(RequestContext& c, Argv argv) { SetOnOff(c, argv[2], &c.client.no_touch); }

void ClientGetRedir(RequestContext& c, Argv) { c.replies.Add(":-1\r\n"); }

void ClientTrackingInfo(RequestContext& c, Argv) {
  c.replies.Add("*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
}

void ClientTrackingRefused(RequestContext& c, Argv argv) {
  std::string name = EqualsIgnoreCase(argv[1], "caching") ? "CACHING" : "TRACKING";
  c.replies.Add("-ERR CLIENT " + name +
                " is not supported through the redkube proxy: client-side caching needs RESP3 "
                "invalidation messages routed from every shard, which the proxy does not do yet\r\n");
}

// Wakes the clients parked by a pause on every worker (UNPAUSE).
void WakePausedEverywhere(ProxyServer* server) {
  for (const auto& worker : server->workers()) {
    worker->Post([](WorkerContext& w) {
      std::erase_if(w.parked_clients, [&](ClientSession* session) {
        return session->state().paused && session->Unpark(true, w.loop->now_ms());
      });
    });
  }
}

// CLIENT PAUSE timeout [WRITE|ALL]: held by the proxy (client_pause.h).
void ClientPauseCommand(RequestContext& c, Argv argv) {
  std::optional<int64_t> timeout = ParseInt64(argv[2]);
  if (!timeout) return c.replies.Add("-ERR timeout is not an integer or out of range\r\n");
  if (*timeout < 0) return c.replies.Add("-ERR timeout is negative\r\n");
  ClientPause::Mode mode = ClientPause::Mode::kAll;
  if (argv.size() == 4) {
    if (EqualsIgnoreCase(argv[3], "write")) {
      mode = ClientPause::Mode::kWrite;
    } else if (!EqualsIgnoreCase(argv[3], "all")) {
      return c.replies.Add("-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
    }
  } else if (argv.size() > 4) {
    return c.replies.Add(kSyntaxError);
  }
  const int64_t now = EventLoop::MonotonicMs();
  c.worker.server->client_pause()->Pause(mode, now + std::min<int64_t>(*timeout, INT64_MAX / 4));
  c.replies.Add("+OK\r\n");
}

void ClientUnpause(RequestContext& c, Argv) {
  c.worker.server->client_pause()->Unpause();
  WakePausedEverywhere(c.worker.server);
  c.replies.Add("+OK\r\n");
}

// CLIENT UNBLOCK id [TIMEOUT|ERROR], id as the proxy numbers its clients:
// a client blocked through the proxy (BLPOP, XREAD BLOCK, BLMOVE...) is
// blocked on server connections of its own, so the proxy asks those servers
// to unblock them (ClientSession::Unblock), and the servers' answers reach
// the client as they would reach a client of theirs: the timeout's reply
// for TIMEOUT, -UNBLOCKED for ERROR. :1 means the client was blocked and
// its servers were asked; a server that served the request in the meantime
// answers it normally instead (the client gets its element; nothing is
// dropped), where redis-server would have answered :0.
void ClientUnblock(RequestContext& c, Argv argv) {
  const std::optional<int64_t> id = ParseInt64(argv[2]);
  if (!id) return c.replies.Add("-ERR value is not an integer or out of range\r\n");
  if (argv.size() == 4 && !EqualsIgnoreCase(argv[3], "timeout") && !EqualsIgnoreCase(argv[3], "error")) {
    return c.replies.Add("-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
  }
  if (argv.size() > 4) return c.replies.Add(kSyntaxError);
  const auto target = static_cast<uint64_t>(*id);
  const bool with_error = argv.size() == 4 && EqualsIgnoreCase(argv[3], "error");
  AnswerAcrossWorkers(
      c,
      [target, with_error](WorkerContext& worker) -> std::string {
        for (const auto& [session, owned] : *worker.clients) {
          if (session->state().id == target && !session->closed())
            return session->Unblock(with_error) ? "1" : "0";
        }
        return "0";
      },
      [](WorkerContext&, std::vector<std::string>& parts) {
        AcrossWorkersReply answer;
        answer.reply = std::find(parts.begin(), parts.end(), "1") != parts.end() ? ":1\r\n" : ":0\r\n";
        return answer;
      });
}

void ClientHelp(RequestContext& c, Argv) {
  static constexpr std::string_view kLines[] = {
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(answered by the redkube proxy for its own clients, across all its threads)",
      "CACHING, TRACKING",
      "    Not supported through the redkube proxy (client-side caching).",
      "GETNAME",
      "    Return the name of the current connection.",
      "GETREDIR",
      "    Return -1: no client tracking through the proxy.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are: ID <client-id>, TYPE (NORMAL|MASTER|REPLICA|PUBSUB),",
      "    USER <username>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO), MAXAGE <seconds>.",
      "LIST [options ...]",
      "    Return information about client connections. Options:",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "    * ID <client-id> [<client-id> ...]",
      "UNPAUSE",
      "    Stop the current client pause, resuming traffic.",
      "PAUSE <timeout> [WRITE|ALL]",
      "    Suspend all, or just write, clients for <timeout> milliseconds (held in the proxy).",
      "REPLY (ON|OFF|SKIP)",
      "    Control the replies sent to the current connection.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "UNBLOCK <clientid> [TIMEOUT|ERROR]",
      "    Unblock the specified blocked client (through its servers).",
      "TRACKINGINFO",
      "    Report tracking status (always off through the proxy).",
      "NO-EVICT (ON|OFF), NO-TOUCH (ON|OFF)",
      "    Recorded for the connection; the servers see the proxy's connections.",
      "HELP",
      "    Print this help.",
  };
  c.replies.Add(HelpReply(kLines));
}

// MONITOR: sent to every master on the client's own connections; the
// client gets +OK once all have answered, then their lines as they come
// (ClientBackends::OnPush), merged in arrival order.
void Monitor(RequestContext& c, Argv) {
  const int shards = c.router().shard_count();
  PendingReply* p = c.replies.OpenMerged(ReplyMerger::Kind::kAllOk, static_cast<uint32_t>(shards));
  for (int shard = 0; shard < shards; ++shard) {
    BackendConnection* backend = c.own.ForSubscriptions(shard);  // its pushes reach the client
    backend->StartMonitoring();
    Buffer* out = backend->StartRequest(p, static_cast<uint32_t>(shard));
    AppendArrayHeader(out, 1);
    AppendBulk(out, "MONITOR");
  }
  c.client.reply_mode |= kMonitoring;
}

}  // namespace

LocalCommand FindClientCommand(std::string_view full_name) {
  static const auto* table = new std::unordered_map<std::string_view, LocalCommand>{
      {"client|list", ClientList},
      {"client|info", ClientInfo},
      {"client|kill", ClientKill},
      {"client|reply", ClientReply},
      {"client|no-evict", ClientNoEvict},
      {"client|no-touch", ClientNoTouch},
      {"client|getredir", ClientGetRedir},
      {"client|trackinginfo", ClientTrackingInfo},
      {"client|tracking", ClientTrackingRefused},
      {"client|caching", ClientTrackingRefused},
      {"client|pause", ClientPauseCommand},
      {"client|unpause", ClientUnpause},
      {"client|unblock", ClientUnblock},
      {"client|help", ClientHelp},
      {"monitor", Monitor},
  };
  auto it = table->find(full_name);
  return it == table->end() ? nullptr : it->second;
}

bool ParkIfPaused(RequestContext& ctx, const CommandRoute& route) {
  // QUIT passes: redis-server 7.0 answers it before any other check.
  if (route.spec->name == "quit") return false;
  // Writes queued in MULTI are not held; their EXEC is (kRouteWrites).
  const bool writes = route.Has(kRouteWrites) &&
                      (!ctx.client.transaction.in_multi || route.transaction == TransactionCommand::kExec);
  const int64_t until = ctx.worker.server->client_pause()->WaitUntil(writes, ctx.worker.loop->now_ms());
  if (until == 0) return false;
  ctx.client.paused = true;
  ctx.client.hold_deadline_ms = until;
  return true;
}

}  // namespace redkube::proxy
