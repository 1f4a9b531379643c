#include "proxy/local_commands.h"

#include <fmt/format.h>
#include <sys/time.h>

#include <string>
#include <unordered_map>

#include "core/reply_scanner.h"
#include "core/strings.h"
#include "proxy/admin_commands.h"
#include "proxy/client_backends.h"
#include "proxy/client_commands.h"
#include "proxy/cluster_commands.h"
#include "proxy/event_loop.h"
#include "proxy/proxy_server.h"
#include "proxy/reply_queue.h"
#include "proxy/request_context.h"
#include "proxy/resp_forms.h"
#include "proxy/transaction_commands.h"

namespace redkube::proxy {
namespace {

using Argv = std::span<const std::string_view>;

std::string Bulk(std::string_view s) {
  std::string out;
  AppendBulk(&out, s);
  return out;
}

std::string WrongArity(std::string_view name) {
  return fmt::format("-ERR wrong number of arguments for '{}' command\r\n", name);
}

void Ping(RequestContext& c, Argv argv) {
  if (c.client.subscriptions.active() && c.client.resp == 2) {
    // RESP2 subscribed mode answers PING with a pub/sub-shaped array.
    std::string_view arg = argv.size() > 1 ? argv[1] : std::string_view();
    return c.replies.Add("*2\r\n$4\r\npong\r\n$" + std::to_string(arg.size()) + "\r\n" + std::string(arg) +
                         "\r\n");
  }
  if (argv.size() > 2) return c.replies.Add(WrongArity("ping"));
  c.replies.Add(argv.size() == 1 ? std::string("+PONG\r\n") : Bulk(argv[1]));
}

void Echo(RequestContext& c, Argv argv) { c.replies.Add(Bulk(argv[1])); }

void Quit(RequestContext& c, Argv) { c.replies.AddFinal("+OK\r\n"); }

void Select(RequestContext& c, Argv argv) {
  std::optional<int64_t> db = ParseInt64(argv[1]);
  if (!db) return c.replies.Add("-ERR value is not an integer or out of range\r\n");
  if (*db != 0) return c.replies.Add("-ERR SELECT is not allowed in redkube: it serves database 0 only\r\n");
  c.replies.Add("+OK\r\n");
}

// Checks a password for the default user and authenticates the client.
bool Authenticate(RequestContext& c, std::string_view user, std::string_view password) {
  const std::string& expected = c.worker.options->password;
  if (expected.empty()) {
    c.replies.Add(
        "-ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?\r\n");
    return false;
  }
  if (user != "default" || !PasswordMatches(password, expected)) {
    c.replies.Add("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    return false;
  }
  c.client.authenticated = true;
  return true;
}

void Auth(RequestContext& c, Argv argv) {
  if (argv.size() > 3) return c.replies.Add("-ERR syntax error\r\n");
  bool ok = argv.size() == 2 ? Authenticate(c, "default", argv[1]) : Authenticate(c, argv[1], argv[2]);
  if (ok) c.replies.Add("+OK\r\n");
}

bool ValidClientName(std::string_view name) {
  for (char ch : name) {
    if (ch < '!' || ch > '~') return false;  // no spaces, newlines or specials
  }
  return true;
}

// HELLO [2|3] [AUTH user pass] [SETNAME name]: the protocol is the
// client's (ClientState::resp); see resp_forms.h and BackendPool for how
// RESP3 replies reach it. With --resp3=false (ProxyOptions::resp3) HELLO 3
// answers -NOPROTO and clients stay on RESP2.
void Hello(RequestContext& c, Argv argv) {
  size_t i = 1;
  int resp = c.client.resp;
  if (argv.size() >= 2) {
    std::optional<int64_t> version = ParseInt64(argv[1]);
    if (!version) return c.replies.Add("-ERR Protocol version is not an integer or out of range\r\n");
    if (*version != 2 && (*version != 3 || !c.worker.options->resp3)) {
      return c.replies.Add("-NOPROTO unsupported protocol version\r\n");
    }
    resp = static_cast<int>(*version);
    i = 2;
  }
  std::string_view setname;
  bool has_setname = false;
  for (; i < argv.size(); ++i) {
    bool more = i + 1 < argv.size();
    if (EqualsIgnoreCase(argv[i], "auth") && i + 2 < argv.size()) {
      if (!Authenticate(c, argv[i + 1], argv[i + 2])) return;
      i += 2;
    } else if (EqualsIgnoreCase(argv[i], "setname") && more) {
      setname = argv[++i];
      has_setname = true;
    } else {
      return c.replies.Add(fmt::format("-ERR Syntax error in HELLO option '{}'\r\n", OneLine(argv[i])));
    }
  }
  if (!c.client.authenticated) {
    return c.replies.Add(
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time\r\n");
  }
  if (has_setname) {
    if (!ValidClientName(setname)) {
      return c.replies.Add("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    }
    c.client.name = std::string(setname);
  }
  if (resp != c.client.resp) {
    c.client.resp = resp;
    c.own.SetProtocol(resp);
  }
  std::string out;
  AppendMapHeader(&out, 7, resp);
  AppendBulk(&out, "server");
  AppendBulk(&out, "redis");
  AppendBulk(&out, "version");
  AppendBulk(&out, "7.0.15");
  AppendBulk(&out, "proto");
  AppendInteger(&out, resp);
  AppendBulk(&out, "id");
  AppendInteger(&out, static_cast<int64_t>(c.client.id));
  AppendBulk(&out, "mode");
  AppendBulk(&out, "standalone");
  AppendBulk(&out, "role");
  AppendBulk(&out, "master");
  AppendBulk(&out, "modules");
  AppendArrayHeader(&out, 0);
  c.replies.Add(out);
}

void ClientSetName(RequestContext& c, Argv argv) {
  if (!ValidClientName(argv[2])) {
    return c.replies.Add("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  }
  c.client.name = std::string(argv[2]);
  c.replies.Add("+OK\r\n");
}

void ClientGetName(RequestContext& c, Argv) {
  c.replies.Add(c.client.name.empty() ? std::string(NilReply(c.client.resp)) : Bulk(c.client.name));
}

void ClientId(RequestContext& c, Argv) {
  std::string out;
  AppendInteger(&out, static_cast<int64_t>(c.client.id));
  c.replies.Add(out);
}

void Time(RequestContext& c, Argv) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  std::string out;
  AppendArrayHeader(&out, 2);
  AppendBulk(&out, std::to_string(tv.tv_sec));
  AppendBulk(&out, std::to_string(tv.tv_usec));
  c.replies.Add(out);
}

void Reset(RequestContext& c, Argv) {
  TransactionCommands::End(c);
  c.own.DropAll();  // unsubscribes from everything as well
  c.client.name.clear();
  c.client.resp = 2;        // DropAll closed the own connections: new ones speak RESP2
  c.client.reply_mode = 0;  // CLIENT REPLY ON, and MONITOR ends (its connections are gone)
  c.client.authenticated = c.worker.options->password.empty();
  c.replies.Add("+RESET\r\n");
}

// SLOWLOG GET/LEN/RESET answer for the proxy: requests slower than
// --slowlog-slower-than-us end to end, whichever server answered them.
void SlowlogGet(RequestContext& c, Argv argv) {
  int64_t count = 10;
  if (argv.size() > 2) {
    std::optional<int64_t> asked = ParseInt64(argv[2]);
    if (!asked) {
      c.replies.Add("-ERR value is not an integer or out of range\r\n");
      return;
    }
    count = *asked;
    if (count < -1) {
      c.replies.Add("-ERR count should be greater than or equal to -1\r\n");
      return;
    }
  }
  auto entries = c.worker.server->slow_log()->Newest(count);
  std::string out;
  AppendArrayHeader(&out, static_cast<int64_t>(entries.size()));
  for (const auto& e : entries) {
    AppendArrayHeader(&out, 6);
    out += fmt::format(":{}\r\n:{}\r\n:{}\r\n", e.id, e.unix_time_s, e.duration_us);
    AppendArrayHeader(&out, static_cast<int64_t>(e.args.size()));
    for (const auto& a : e.args) AppendBulk(&out, a);
    AppendBulk(&out, e.client_addr);
    AppendBulk(&out, e.client_name);
  }
  c.replies.Add(out);
}

void SlowlogLen(RequestContext& c, Argv) {
  c.replies.Add(fmt::format(":{}\r\n", c.worker.server->slow_log()->Length()));
}

void SlowlogReset(RequestContext& c, Argv) {
  c.worker.server->slow_log()->Reset();
  c.replies.Add("+OK\r\n");
}

}  // namespace

LocalCommand FindLocalCommand(std::string_view full_name) {
  if (LocalCommand cluster = FindClusterCommand(full_name)) return cluster;
  static const auto* table = new std::unordered_map<std::string_view, LocalCommand>{
      {"ping", Ping},
      {"echo", Echo},
      {"quit", Quit},
      {"select", Select},
      {"auth", Auth},
      {"hello", Hello},
      {"client|setname", ClientSetName},
      {"client|getname", ClientGetName},
      {"client|id", ClientId},
      {"time", Time},
      {"reset", Reset},
      {"slowlog|get", SlowlogGet},
      {"slowlog|len", SlowlogLen},
      {"slowlog|reset", SlowlogReset},
      // LATENCY, MEMORY, ACL: admin_commands.h says what each does.
      {"latency|latest", LatencyLatest},
      {"latency|history", LatencyHistory},
      {"latency|reset", LatencyReset},
      {"latency|doctor", LatencyPerShardText},
      {"latency|graph", LatencyPerShardText},
      {"latency|histogram", LatencyHistogramCommand},
      {"latency|help", AnyMaster},
      {"memory|stats", MemoryStats},
      {"memory|doctor", MemoryPerShardText},
      {"memory|malloc-stats", MemoryPerShardText},
      {"memory|purge", MemoryPurge},
      {"acl|whoami", AclWhoami},
      {"acl|users", AclUsers},
      {"acl|cat", AnyMaster},
      {"acl|genpass", AnyMaster},
      {"acl|help", AnyMaster},
      {"acl|setuser", AclRefused},
      {"acl|deluser", AclRefused},
      {"acl|getuser", AclRefused},
      {"acl|list", AclRefused},
      {"acl|load", AclRefused},
      {"acl|save", AclRefused},
      {"acl|log", AclRefused},
      {"acl|dryrun", AclRefused},
  };
  auto it = table->find(full_name);
  if (it == table->end()) return FindClientCommand(full_name);  // CLIENT LIST, KILL, ...
  return it->second;
}

std::string UnknownCommandError(std::span<const std::string_view> argv) {
  // redis-server: "unknown command '%.128s', with args beginning with: "
  // followed by "'%.*s' " per argument while the list is under 128 bytes.
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    size_t room = 128 - args.size();
    args += fmt::format("'{}' ", argv[i].substr(0, room));
  }
  std::string msg =
      fmt::format("-ERR unknown command '{}', with args beginning with: {}", argv[0].substr(0, 128), args);
  // An error line must stay one line.
  for (size_t i = 1; i < msg.size(); ++i) {
    if (msg[i] == '\r' || msg[i] == '\n') msg[i] = ' ';
  }
  return msg + "\r\n";
}

bool PasswordMatches(std::string_view given, std::string_view password) {
  unsigned char diff = given.size() == password.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ password[i % (password.empty() ? 1 : password.size())]);
  }
  return diff == 0 && !password.empty();
}

}  // namespace redkube::proxy
