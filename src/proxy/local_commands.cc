#include "proxy/local_commands.h"

#include <fmt/format.h>
#include <strings.h>
#include <sys/time.h>

#include <charconv>
#include <string>
#include <unordered_map>

#include "core/reply_scanner.h"
#include "proxy/client_session.h"
#include "proxy/event_loop.h"
#include "proxy/proxy_server.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

using Argv = std::span<const std::string_view>;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string Bulk(std::string_view s) {
  std::string out;
  AppendBulk(&out, s);
  return out;
}

std::string WrongArity(std::string_view name) {
  return fmt::format("-ERR wrong number of arguments for '{}' command\r\n", name);
}

void Ping(ClientSession* c, Argv argv) {
  if (argv.size() > 2) return c->Reply(WrongArity("ping"));
  c->Reply(argv.size() == 1 ? std::string("+PONG\r\n") : Bulk(argv[1]));
}

void Echo(ClientSession* c, Argv argv) { c->Reply(Bulk(argv[1])); }

void Quit(ClientSession* c, Argv) { c->ReplyAndClose("+OK\r\n"); }

void Select(ClientSession* c, Argv argv) {
  int64_t db;
  auto r = std::from_chars(argv[1].data(), argv[1].data() + argv[1].size(), db);
  if (r.ec != std::errc() || r.ptr != argv[1].data() + argv[1].size()) {
    return c->Reply("-ERR value is not an integer or out of range\r\n");
  }
  if (db != 0) return c->Reply("-ERR SELECT is not allowed in redkube: it serves database 0 only\r\n");
  c->Reply("+OK\r\n");
}

// Checks a password for the default user and authenticates the client.
bool Authenticate(ClientSession* c, std::string_view user, std::string_view password) {
  const std::string& expected = c->worker()->options().password;
  if (expected.empty()) {
    c->Reply(
        "-ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?\r\n");
    return false;
  }
  if (user != "default" || !PasswordMatches(password, expected)) {
    c->Reply("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    return false;
  }
  c->set_authenticated(true);
  return true;
}

void Auth(ClientSession* c, Argv argv) {
  if (argv.size() > 3) return c->Reply("-ERR syntax error\r\n");
  bool ok = argv.size() == 2 ? Authenticate(c, "default", argv[1])
                             : Authenticate(c, argv[1], argv[2]);
  if (ok) c->Reply("+OK\r\n");
}

bool ValidClientName(std::string_view name) {
  for (char ch : name) {
    if (ch < '!' || ch > '~') return false;  // no spaces, newlines or specials
  }
  return true;
}

void Hello(ClientSession* c, Argv argv) {
  size_t i = 1;
  if (argv.size() >= 2) {
    int64_t version;
    auto r = std::from_chars(argv[1].data(), argv[1].data() + argv[1].size(), version);
    if (r.ec != std::errc() || r.ptr != argv[1].data() + argv[1].size()) {
      return c->Reply("-ERR Protocol version is not an integer or out of range\r\n");
    }
    if (version != 2) {
      // RESP3 is the subject of a later version; clients fall back to RESP2.
      return c->Reply("-NOPROTO sorry, this protocol version is not supported.\r\n");
    }
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
      return c->Reply(fmt::format("-ERR Syntax error in HELLO option '{}'\r\n", argv[i]));
    }
  }
  if (!c->authenticated()) {
    return c->Reply(
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time\r\n");
  }
  if (has_setname) {
    if (!ValidClientName(setname)) {
      return c->Reply("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    }
    c->set_name(std::string(setname));
  }
  std::string out;
  AppendArrayHeader(&out, 14);
  AppendBulk(&out, "server");
  AppendBulk(&out, "redis");
  AppendBulk(&out, "version");
  AppendBulk(&out, "7.0.15");
  AppendBulk(&out, "proto");
  AppendInteger(&out, 2);
  AppendBulk(&out, "id");
  AppendInteger(&out, static_cast<int64_t>(c->id()));
  AppendBulk(&out, "mode");
  AppendBulk(&out, "standalone");
  AppendBulk(&out, "role");
  AppendBulk(&out, "master");
  AppendBulk(&out, "modules");
  AppendArrayHeader(&out, 0);
  c->Reply(out);
}

void ClientSetName(ClientSession* c, Argv argv) {
  if (!ValidClientName(argv[2])) {
    return c->Reply("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  }
  c->set_name(std::string(argv[2]));
  c->Reply("+OK\r\n");
}

void ClientGetName(ClientSession* c, Argv) {
  c->Reply(c->name().empty() ? std::string("$-1\r\n") : Bulk(c->name()));
}

void ClientId(ClientSession* c, Argv) {
  std::string out;
  AppendInteger(&out, static_cast<int64_t>(c->id()));
  c->Reply(out);
}

// Every field redis-server 7.0 gives (client libraries parse them), with the
// values of the client's connection to the proxy; buffer sizes are not
// tracked per field and read 0.
void ClientInfo(ClientSession* c, Argv) {
  int64_t now_ms = c->worker()->loop()->now_ms();
  int64_t age_s = (now_ms - c->created_ms()) / 1000;
  int64_t idle_s = (now_ms - c->last_read_ms()) / 1000;
  const ClientSubscriptions& subs = c->subscriptions();
  const ClientTransaction& txn = c->transaction();
  std::string flags = subs.active() ? "P" : (txn.in_multi ? "x" : "N");
  c->Reply(Bulk(fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} "
      "multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem={} rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 "
      "events=r cmd=client|info user=default redir=-1 resp=2\n",
      c->id(), c->peer(), c->local(), c->fd(), c->name(), age_s, idle_s, flags, subs.channels.size(),
      subs.patterns.size(), subs.shard_channels.size(), txn.in_multi ? static_cast<int64_t>(txn.count) : -1,
      txn.queued.size())));
}

void Time(ClientSession* c, Argv) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  std::string out;
  AppendArrayHeader(&out, 2);
  AppendBulk(&out, std::to_string(tv.tv_sec));
  AppendBulk(&out, std::to_string(tv.tv_usec));
  c->Reply(out);
}

void Reset(ClientSession* c, Argv) {
  c->worker()->dispatcher()->EndTransaction(c);
  c->DropOwnBackends();  // unsubscribes from everything as well
  c->set_name("");
  c->set_authenticated(c->worker()->options().password.empty());
  c->Reply("+RESET\r\n");
}

// SLOWLOG GET/LEN/RESET answer for the proxy: requests slower than
// --slowlog-slower-than-us end to end, whichever server answered them.
void SlowlogGet(ClientSession* c, Argv argv) {
  int64_t count = 10;
  if (argv.size() > 2) {
    auto r = std::from_chars(argv[2].data(), argv[2].data() + argv[2].size(), count);
    if (r.ec != std::errc() || r.ptr != argv[2].data() + argv[2].size()) {
      c->Reply("-ERR value is not an integer or out of range\r\n");
      return;
    }
    if (count < -1) {
      c->Reply("-ERR count should be greater than or equal to -1\r\n");
      return;
    }
  }
  auto entries = c->worker()->server()->slow_log()->Newest(count);
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
  c->Reply(out);
}

void SlowlogLen(ClientSession* c, Argv) {
  c->Reply(fmt::format(":{}\r\n", c->worker()->server()->slow_log()->Length()));
}

void SlowlogReset(ClientSession* c, Argv) {
  c->worker()->server()->slow_log()->Reset();
  c->Reply("+OK\r\n");
}

}  // namespace

LocalCommand FindLocalCommand(std::string_view full_name) {
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
      {"client|info", ClientInfo},
      {"time", Time},
      {"reset", Reset},
      {"slowlog|get", SlowlogGet},
      {"slowlog|len", SlowlogLen},
      {"slowlog|reset", SlowlogReset},
  };
  auto it = table->find(full_name);
  return it == table->end() ? nullptr : it->second;
}

std::string UnknownCommandError(std::span<const std::string_view> argv) {
  // redis-server: "unknown command '%.128s', with args beginning with: "
  // followed by "'%.*s' " per argument while the list is under 128 bytes.
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; ++i) {
    size_t room = 128 - args.size();
    args += fmt::format("'{}' ", argv[i].substr(0, room));
  }
  std::string msg = fmt::format("-ERR unknown command '{}', with args beginning with: {}",
                                argv[0].substr(0, 128), args);
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
