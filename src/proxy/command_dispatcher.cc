#include "proxy/command_dispatcher.h"

#include <charconv>
#include <string>
#include <unordered_map>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "proxy/client_session.h"
#include "proxy/command_stats.h"
#include "proxy/local_commands.h"
#include "proxy/pending_reply.h"
#include "proxy/proxy_server.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

enum class Route {
  kSlot,        // to the shard owning the keys' slot (the default for keyed commands)
  kLocal,       // answered by the proxy
  kSplitMget,   // MGET
  kSplitMset,   // MSET
  kSplitSum,    // DEL, UNLINK, EXISTS, TOUCH
  kFanOut,      // every master, merged by `merge`
  kScan,
  kInfo,
  kAnyShard,    // any one master answers for all (COMMAND ...)
  kRefuse,      // an error naming `reason`
  kChannel,     // PUBLISH, SPUBLISH: the shard owning the channel name's slot
  kWait,        // WAIT: every master, on the client's own connections
  kScriptLoad,  // SCRIPT LOAD: every master, and the proxy's ScriptCache
  kScriptFlush, // SCRIPT FLUSH: every master, and the proxy's ScriptCache
};

struct Policy {
  Policy() = default;
  Policy(Route r, ReplyMerger::Kind m = ReplyMerger::Kind::kAllOk, std::string_view why = {})
      : route(r), merge(m), reason(why) {}

  Route route = Route::kSlot;
  ReplyMerger::Kind merge = ReplyMerger::Kind::kAllOk;
  std::string_view reason;
  LocalCommand local = nullptr;
  uint16_t command_index = 0;  // CommandIndex, for per-command stats
};

constexpr std::string_view kReplication =
    "replication is managed by redkube's ConfigServer, not through the proxy";
constexpr std::string_view kServerAdmin =
    "it administers one server; run it on the servers directly";
constexpr std::string_view kOneDatabase = "redkube serves database 0 only";
constexpr std::string_view kNoCluster = "redkube is not a Redis Cluster; the proxy routes for you";

// The proxy's routing policy, by full command name. Commands not listed are
// routed by slot when they have keys, and refused (server-level) otherwise.
const std::unordered_map<std::string_view, Policy>& PolicyByName() {
  using K = ReplyMerger::Kind;
  static const auto* table = new std::unordered_map<std::string_view, Policy>{
      {"mget", {Route::kSplitMget, K::kMgetByPosition}},
      {"mset", {Route::kSplitMset, K::kAllOk}},
      {"del", {Route::kSplitSum, K::kSumIntegers}},
      {"unlink", {Route::kSplitSum, K::kSumIntegers}},
      {"exists", {Route::kSplitSum, K::kSumIntegers}},
      {"touch", {Route::kSplitSum, K::kSumIntegers}},
      {"dbsize", {Route::kFanOut, K::kSumIntegers}},
      {"keys", {Route::kFanOut, K::kConcatArrays}},
      {"flushall", {Route::kFanOut, K::kAllOk}},
      {"flushdb", {Route::kFanOut, K::kAllOk}},
      {"randomkey", {Route::kFanOut, K::kRandomNonNil}},
      {"script|load", {Route::kScriptLoad, K::kFirstReply}},
      {"script|exists", {Route::kFanOut, K::kAndArrays}},
      {"script|flush", {Route::kScriptFlush, K::kAllOk}},
      {"function|load", {Route::kFanOut, K::kFirstReply}},
      {"function|delete", {Route::kFanOut, K::kAllOk}},
      {"function|flush", {Route::kFanOut, K::kAllOk}},
      {"function|list", {Route::kFanOut, K::kFirstReply}},
      {"scan", {Route::kScan}},
      {"publish", {Route::kChannel}},
      {"spublish", {Route::kChannel}},
      {"pubsub|channels", {Route::kFanOut, K::kConcatArrays}},
      {"pubsub|shardchannels", {Route::kFanOut, K::kConcatArrays}},
      {"pubsub|numsub", {Route::kFanOut, K::kSumPairs}},
      {"pubsub|shardnumsub", {Route::kFanOut, K::kSumPairs}},
      {"pubsub|numpat", {Route::kAnyShard}},
      {"pubsub|help", {Route::kAnyShard}},
      {"info", {Route::kInfo}},
      {"wait", {Route::kWait}},
      {"command", {Route::kAnyShard}},
      {"command|count", {Route::kAnyShard}},
      {"command|info", {Route::kAnyShard}},
      {"command|docs", {Route::kAnyShard}},
      {"command|list", {Route::kAnyShard}},
      {"command|getkeys", {Route::kAnyShard}},
      {"command|getkeysandflags", {Route::kAnyShard}},
      {"command|help", {Route::kAnyShard}},
      {"script|help", {Route::kAnyShard}},
      {"function|help", {Route::kAnyShard}},
      {"object|help", {Route::kAnyShard}},
      {"xinfo|help", {Route::kAnyShard}},
      {"xgroup|help", {Route::kAnyShard}},
      {"memory|help", {Route::kAnyShard}},
      {"lolwut", {Route::kAnyShard}},
      {"slowlog|help", {Route::kAnyShard}},
      {"monitor", {Route::kRefuse, {}, "monitor a server directly"}},
      {"sync", {Route::kRefuse, {}, kReplication}},
      {"psync", {Route::kRefuse, {}, kReplication}},
      {"replconf", {Route::kRefuse, {}, kReplication}},
      {"replicaof", {Route::kRefuse, {}, kReplication}},
      {"slaveof", {Route::kRefuse, {}, kReplication}},
      {"failover", {Route::kRefuse, {}, kReplication}},
      {"move", {Route::kRefuse, {}, kOneDatabase}},
      {"swapdb", {Route::kRefuse, {}, kOneDatabase}},
      {"migrate", {Route::kRefuse, {}, "redkube migrates slots itself"}},
      {"asking", {Route::kRefuse, {}, kNoCluster}},
      {"readonly", {Route::kRefuse, {}, kNoCluster}},
      {"readwrite", {Route::kRefuse, {}, kNoCluster}},
  };
  return *table;
}

bool IsWord(std::string_view arg, std::string_view word) {
  return arg.size() == word.size() && strncasecmp(arg.data(), word.data(), word.size()) == 0;
}

// Blocking commands: all of them block, except XREAD/XREADGROUP without BLOCK.
bool Blocks(const CommandSpec& spec, std::span<const std::string_view> argv) {
  if (!spec.Has(kFlagBlocking)) return false;
  if (spec.name != "xread" && spec.name != "xreadgroup") return true;
  // XREAD [COUNT n] [BLOCK ms] STREAMS ...; XREADGROUP GROUP <group>
  // <consumer> [COUNT n] [BLOCK ms] [NOACK] STREAMS ...: the options start
  // after the group and consumer, whose names may be any word ("streams").
  for (size_t i = spec.name == "xreadgroup" ? 4 : 1; i < argv.size(); ++i) {
    if (IsWord(argv[i], "streams")) return false;
    if (IsWord(argv[i], "block")) return true;
    if (IsWord(argv[i], "count")) ++i;  // its value
  }
  return false;
}

// Requests sent on the client's own connection rather than a shared one
// (inside MULTI, everything but EXEC is queued by the proxy instead).
bool UsesOwnConnection(const CommandSpec& spec, std::span<const std::string_view> argv, bool in_multi) {
  if (spec.name == "exec") return in_multi;
  return !in_multi && (Blocks(spec, argv) || spec.name == "watch" || spec.name == "wait");
}

const Policy& PolicyFor(const CommandSpec& spec) {
  // Resolved once per command spec, so a request costs one pointer lookup.
  static const auto* by_spec = [] {
    auto* m = new std::unordered_map<const CommandSpec*, Policy>();
    const auto& names = PolicyByName();
    auto add = [&](const CommandSpec& s) {
      Policy p;
      if (auto it = names.find(s.name); it != names.end()) {
        p = it->second;
      } else if (LocalCommand local = FindLocalCommand(s.name)) {
        p.route = Route::kLocal;
        p.local = local;
      } else if (s.key_specs.empty() && !s.Has(kFlagMovableKeys)) {
        p.route = Route::kRefuse;
        p.reason = kServerAdmin;
      }
      p.command_index = CommandIndex::Instance().Of(s);
      (*m)[&s] = p;
    };
    for (const auto& c : CommandTable::Instance().commands()) {
      add(c);
      for (const auto& sub : c.subcommands) add(sub);
    }
    return m;
  }();
  static const Policy kAny{Route::kAnyShard};
  auto it = by_spec->find(&spec);
  return it == by_spec->end() ? kAny : it->second;
}

std::string Refusal(const CommandSpec& spec, std::string_view reason) {
  std::string name(spec.name);
  for (auto& c : name) {
    c = (c == '|') ? ' ' : static_cast<char>(toupper(static_cast<unsigned char>(c)));
  }
  return "-ERR " + name + " is not supported through the redkube proxy: " + std::string(reason) +
         "\r\n";
}

// A reply slot whose parts are combined by a merger of `kind`.
std::string NoReplicaError(const Topology& topology, int shard) {
  return "-TRYAGAIN no replica of " + topology.shards()[shard].id +
         " is in sync to read from (--read-from replica)\r\n";
}

PendingReply* NewMergedReply(ClientSession* client, ReplyMerger::Kind kind, size_t parts) {
  PendingReply* p = client->NewPending();
  if (!p->merger) p->merger = std::make_unique<ReplyMerger>();
  p->merging = true;
  p->merger->Reset(kind, static_cast<uint32_t>(parts));
  p->outstanding = static_cast<uint32_t>(parts);
  return p;
}

}  // namespace

void AppendRequest(Buffer* out, std::span<const std::string_view> argv, std::string_view raw) {
  if (!raw.empty()) {
    out->Append(raw);
    return;
  }
  AppendArrayHeader(out, static_cast<int64_t>(argv.size()));
  for (auto a : argv) AppendBulk(out, a);
}

CommandDispatcher::Order CommandDispatcher::Dispatch(ClientSession* client,
                                                     std::span<const std::string_view> argv,
                                                     std::string_view raw) {
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  // A request for the client's own connection could overtake the client's
  // earlier requests on the shared ones, and be overtaken by its later ones:
  // it waits for the earlier replies, and the later requests for its reply,
  // so that the servers see the client's requests in its order.
  const bool own_connection = spec != nullptr && client->authenticated() &&
                              UsesOwnConnection(*spec, argv, client->transaction().in_multi);
  if (own_connection && client->OwesReplies()) return Order::kRetryAfterReplies;
  const Order done = own_connection ? Order::kHoldUntilReplied : Order::kGoOn;
  if (!client->authenticated()) {
    // Only what lets a client authenticate (or leave) is allowed before AUTH.
    bool allowed = spec != nullptr && (spec->name == "auth" || spec->name == "hello" ||
                                       spec->name == "quit" || spec->name == "reset");
    if (!allowed) {
      client->Reply("-NOAUTH Authentication required.\r\n");
      return done;
    }
  }
  if (spec == nullptr) {
    if (client->transaction().in_multi) client->transaction().aborted = true;
    client->Reply(UnknownCommandError(argv));
    return done;
  }
  if (spec->IsContainer() && argv.size() > 1) {
    // Resolve() returns the container itself only for an unknown subcommand:
    // any server answers with Redis's own error.
    Forward(client, 0, argv, raw);
    return done;
  }
  if (!ArityOk(*spec, argv.size())) {
    if (client->transaction().in_multi) client->transaction().aborted = true;
    client->Reply("-ERR wrong number of arguments for '" + std::string(spec->name) +
                  "' command\r\n");
    return done;
  }
  const Policy& policy = PolicyFor(*spec);
  BumpSingleWriter(worker_->command_stats()[policy.command_index].calls, 1);
  client->set_current_request(policy.command_index, argv);
  if (client->subscriptions().active() && !AllowedWhileSubscribed(client, *spec, argv)) return done;
  if (HandleTransaction(client, *spec, argv, raw)) return done;
  if (HandleSubscription(client, *spec, argv)) return done;
  switch (policy.route) {
    case Route::kSlot:
      RouteBySlot(client, *spec, argv, raw);
      return done;
    case Route::kLocal:
      policy.local(client, argv);
      return done;
    case Route::kSplitMget:
      Split(client, argv, raw, 1, policy.merge);
      return done;
    case Route::kSplitMset:
      Split(client, argv, raw, 2, policy.merge);
      return done;
    case Route::kSplitSum:
      Split(client, argv, raw, 1, policy.merge);
      return done;
    case Route::kFanOut:
      FanOut(client, argv, raw, policy.merge);
      return done;
    case Route::kScan:
      Scan(client, argv);
      return done;
    case Route::kInfo:
      Info(client, argv);
      return done;
    case Route::kAnyShard:
      Forward(client, 0, argv, raw);
      return done;
    case Route::kRefuse:
      client->Reply(Refusal(*spec, policy.reason));
      return done;
    case Route::kChannel:
      Forward(client, worker_->topology().ShardIndexForSlot(KeySlot(argv[1])), argv, raw);
      return done;
    case Route::kWait:
      Wait(client, argv, raw);
      return done;
    case Route::kScriptLoad:
      worker_->server()->scripts()->Add(argv[2]);
      FanOut(client, argv, raw, policy.merge);
      return done;
    case Route::kScriptFlush:
      worker_->server()->scripts()->Clear();
      FanOut(client, argv, raw, policy.merge);
      return done;
  }
  return done;
}

void CommandDispatcher::Forward(ClientSession* client, int shard,
                                std::span<const std::string_view> argv, std::string_view raw) {
  PendingReply* p = client->NewPending();
  p->outstanding = 1;
  AppendRequest(worker_->BackendForShard(shard)->StartRequest(p, 0), argv, raw);
}

int CommandDispatcher::SlotOfKeys(const CommandSpec& spec, std::span<const std::string_view> argv) {
  if (ExtractKeys(spec, argv, &keys_) == KeyExtraction::kMalformed || keys_.empty()) return -1;
  int slot = KeySlot(argv[keys_[0]]);
  for (size_t i = 1; i < keys_.size(); ++i) {
    if (KeySlot(argv[keys_[i]]) != slot) return -2;
  }
  return slot;
}

namespace {

constexpr std::string_view kCrossSlot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
constexpr std::string_view kMultiRequest = "*1\r\n$5\r\nMULTI\r\n";
constexpr std::string_view kExecRequest = "*1\r\n$4\r\nEXEC\r\n";
constexpr std::string_view kUnwatchRequest = "*1\r\n$7\r\nUNWATCH\r\n";

// Replies the proxy does not pass on (MULTI's +OK, the +QUEUED of each
// command, UNWATCH's +OK): a reply slot in no client's queue.
PendingReply* DroppedReplies(Worker* worker, uint32_t count) {
  PendingReply* p = worker->pending_pool()->Get();
  p->client = nullptr;
  p->outstanding = count;
  return p;
}

}  // namespace

bool CommandDispatcher::AllowedWhileSubscribed(ClientSession* client, const CommandSpec& spec,
                                               std::span<const std::string_view> argv) {
  const std::string_view name = spec.name;
  if (name == "ping") {
    // RESP2 subscribed mode answers PING with a pub/sub-shaped array.
    std::string_view arg = argv.size() > 1 ? argv[1] : std::string_view();
    client->Reply("*2\r\n$4\r\npong\r\n$" + std::to_string(arg.size()) + "\r\n" + std::string(arg) + "\r\n");
    return false;
  }
  if (name == "subscribe" || name == "unsubscribe" || name == "psubscribe" || name == "punsubscribe" ||
      name == "ssubscribe" || name == "sunsubscribe" || name == "quit" || name == "reset") {
    return true;
  }
  client->Reply("-ERR Can't execute '" + std::string(name) +
                "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
  return false;
}

bool CommandDispatcher::HandleSubscription(ClientSession* client, const CommandSpec& spec,
                                           std::span<const std::string_view> argv) {
  using Kind = SubscriptionRouter::Kind;
  static const std::unordered_map<std::string_view, std::pair<Kind, bool>> kCommands = {
      {"subscribe", {Kind::kChannel, true}},       {"unsubscribe", {Kind::kChannel, false}},
      {"psubscribe", {Kind::kPattern, true}},      {"punsubscribe", {Kind::kPattern, false}},
      {"ssubscribe", {Kind::kShardChannel, true}}, {"sunsubscribe", {Kind::kShardChannel, false}},
  };
  auto it = kCommands.find(spec.name);
  if (it == kCommands.end()) return false;
  auto [kind, subscribe] = it->second;
  if (subscribe) {
    subscriptions_.Subscribe(client, kind, argv);
  } else {
    subscriptions_.Unsubscribe(client, kind, argv);
  }
  return true;
}

bool CommandDispatcher::HandleTransaction(ClientSession* client, const CommandSpec& spec,
                                          std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = client->transaction();
  const std::string_view name = spec.name;
  if (name == "multi") {
    if (txn.in_multi) {
      client->Reply("-ERR MULTI calls can not be nested\r\n");
    } else {
      txn.in_multi = true;
      client->Reply("+OK\r\n");
    }
    return true;
  }
  if (name == "exec") {
    if (!txn.in_multi) {
      client->Reply("-ERR EXEC without MULTI\r\n");
    } else {
      Exec(client);
    }
    return true;
  }
  if (name == "discard") {
    if (!txn.in_multi) {
      client->Reply("-ERR DISCARD without MULTI\r\n");
    } else {
      EndTransaction(client);
      client->Reply("+OK\r\n");
    }
    return true;
  }
  if (name == "watch") {
    if (txn.in_multi) {
      client->Reply("-ERR WATCH inside MULTI is not allowed\r\n");
    } else {
      Watch(client, spec, argv, raw);
    }
    return true;
  }
  if (name == "unwatch" && !txn.in_multi) {
    BackendConnection* own = txn.watch_master.empty() ? nullptr : client->FindOwnBackend(txn.watch_master);
    txn.Clear();
    if (own == nullptr) {
      client->Reply("+OK\r\n");
    } else {
      PendingReply* p = client->NewPending();
      p->outstanding = 1;
      own->StartRequest(p, 0)->Append(kUnwatchRequest);
    }
    return true;
  }
  if (!txn.in_multi) return false;
  Queue(client, spec, argv, raw);
  return true;
}

void CommandDispatcher::Queue(ClientSession* client, const CommandSpec& spec,
                              std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = client->transaction();
  const Policy& policy = PolicyFor(spec);
  // What runs on one shard can be queued there; what the proxy answers or
  // spreads over shards cannot be part of a one-shard transaction.
  bool runs_on_one_shard =
      policy.route == Route::kSlot || policy.route == Route::kAnyShard || policy.route == Route::kSplitMget ||
      policy.route == Route::kSplitMset || policy.route == Route::kSplitSum ||
      (policy.route == Route::kLocal && (spec.name == "ping" || spec.name == "echo" || spec.name == "time")) ||
      spec.name == "unwatch";
  if (!runs_on_one_shard) {
    txn.aborted = true;
    std::string reason = policy.route == Route::kRefuse
                             ? std::string(policy.reason)
                             : "it is answered by the proxy or by every shard, and a transaction runs on one shard";
    client->Reply(Refusal(spec, "inside MULTI: " + reason));
    return;
  }
  int slot = SlotOfKeys(spec, argv);
  if (slot == -2 || (slot >= 0 && txn.slot >= 0 && slot != txn.slot)) {
    txn.aborted = true;
    client->Reply(kCrossSlot);
    return;
  }
  if (slot >= 0) txn.slot = slot;
  Buffer request;
  AppendRequest(&request, argv, raw);
  txn.queued.append(request.data(), request.size());
  ++txn.count;
  client->Reply("+QUEUED\r\n");
}

void CommandDispatcher::Watch(ClientSession* client, const CommandSpec& spec,
                              std::span<const std::string_view> argv, std::string_view raw) {
  ClientTransaction& txn = client->transaction();
  int slot = SlotOfKeys(spec, argv);
  if (slot == -2 || (txn.slot >= 0 && slot != txn.slot)) {
    client->Reply(kCrossSlot);
    return;
  }
  int shard = worker_->topology().ShardIndexForSlot(static_cast<uint16_t>(slot));
  std::string master = worker_->topology().shards()[shard].master.ToString();
  if (!txn.watch_master.empty() && txn.watch_master != master) {
    // The slot moved to another server since the first WATCH: that one's
    // watch is gone, so the transaction could not be checked. Say so.
    EndTransaction(client);
    client->Reply("-TRYAGAIN the watched keys moved to another server; WATCH again\r\n");
    return;
  }
  BackendConnection* own = client->OwnBackend(shard);
  if (own->failing()) {
    // Lost and not back yet: the WATCH would fail. Said before the
    // transaction takes note of it, so that a retry, once reconnected, is
    // not taken for a watch that was lost.
    client->Reply("-TRYAGAIN backend " + master + " unavailable; WATCH again\r\n");
    return;
  }
  txn.slot = slot;
  txn.watch_master = master;
  PendingReply* p = client->NewPending();
  p->outstanding = 1;
  AppendRequest(own->StartRequest(p, 0), argv, raw);
  // The server connection that holds the watch: if it is lost (and
  // reconnected) before EXEC, the watch went with it.
  if (txn.watch_session == 0) txn.watch_session = own->session();
}

void CommandDispatcher::Exec(ClientSession* client) {
  ClientTransaction& txn = client->transaction();
  if (txn.aborted) {
    EndTransaction(client);
    client->Reply("-EXECABORT Transaction discarded because of previous errors.\r\n");
    return;
  }
  const Topology& topology = worker_->topology();
  int shard = txn.slot >= 0 ? topology.ShardIndexForSlot(static_cast<uint16_t>(txn.slot)) : 0;
  if (!txn.watch_master.empty()) {
    // The watch cannot hold if the watched keys' shard changed master after
    // WATCH (failover, migration), or if the connection that got it failed
    // since (the server restarted, the connection was killed: EXEC on a new
    // one would run unchecked). EXEC then fails as on a conflict.
    const BackendConnection* held = client->FindOwnBackend(txn.watch_master);
    if (topology.shards()[shard].master.ToString() != txn.watch_master || held == nullptr ||
        held->session() != txn.watch_session) {
      EndTransaction(client);
      client->Reply("*-1\r\n");
      return;
    }
  }
  BackendConnection* own = client->OwnBackend(shard);
  PendingReply* dropped = DroppedReplies(worker_, txn.count + 1);
  own->StartRequest(dropped, 0)->Append(kMultiRequest);
  for (uint32_t i = 0; i < txn.count; ++i) {
    Buffer* out = own->StartRequest(dropped, 0);
    if (i + 1 == txn.count) out->Append(txn.queued);
  }
  PendingReply* p = client->NewPending();
  p->outstanding = 1;
  own->StartRequest(p, 0)->Append(kExecRequest);
  txn.Clear();  // EXEC also ends the server's WATCH
}

void CommandDispatcher::EndTransaction(ClientSession* client) {
  ClientTransaction& txn = client->transaction();
  if (!txn.watch_master.empty()) {
    if (BackendConnection* own = client->FindOwnBackend(txn.watch_master)) {
      own->StartRequest(DroppedReplies(worker_, 1), 0)->Append(kUnwatchRequest);
    }
  }
  txn.Clear();
}

void CommandDispatcher::RouteBySlot(ClientSession* client, const CommandSpec& spec,
                                    std::span<const std::string_view> argv, std::string_view raw) {
  if (ExtractKeys(spec, argv, &keys_) == KeyExtraction::kMalformed || keys_.empty()) {
    // Malformed: any server answers with Redis's exact error. No keys (EVAL
    // with numkeys 0): any server can run it.
    Forward(client, 0, argv, raw);
    return;
  }
  uint16_t slot = KeySlot(argv[keys_[0]]);
  for (size_t i = 1; i < keys_.size(); ++i) {
    if (KeySlot(argv[keys_[i]]) != slot) {
      client->Reply(kCrossSlot);
      return;
    }
  }
  int shard = worker_->topology().ShardIndexForSlot(slot);
  if (ReadsFromReplicas(spec)) {
    BackendConnection* backend = worker_->ReadBackendForShard(shard);
    if (backend == nullptr) {
      client->Reply(NoReplicaError(worker_->topology(), shard));
      return;
    }
    PendingReply* p = client->NewPending();
    p->outstanding = 1;
    AppendRequest(backend->StartRequest(p, 0), argv, raw);
    return;
  }
  if (Blocks(spec, argv)) {
    PendingReply* p = client->NewPending();
    p->outstanding = 1;
    p->blocks = true;
    AppendRequest(client->OwnBackend(shard)->StartRequest(p, 0), argv, raw);
    return;
  }
  Forward(client, shard, argv, raw);
}

bool CommandDispatcher::ReadsFromReplicas(const CommandSpec& spec) const {
  // EVALSHA_RO stays on masters: SCRIPT LOAD reaches masters only, and
  // redis-server does not replicate its script cache.
  return worker_->options().read_from != ReadFrom::kMaster && spec.Has(kFlagReadonly) &&
         !spec.Has(kFlagBlocking) && spec.name != "evalsha_ro";
}

void CommandDispatcher::Split(ClientSession* client, std::span<const std::string_view> argv,
                              std::string_view raw, int stride, ReplyMerger::Kind kind) {
  if ((argv.size() - 1) % stride != 0) {
    // MSET with an odd count: Redis's own error.
    Forward(client, 0, argv, raw);
    return;
  }
  const Topology& topology = worker_->topology();
  size_t shard_count = topology.shards().size();
  part_of_shard_.assign(shard_count, -1);
  part_shard_.clear();
  size_t key_count = (argv.size() - 1) / stride;
  for (size_t k = 0; k < key_count; ++k) {
    int shard = topology.ShardIndexForSlot(KeySlot(argv[1 + k * stride]));
    if (part_of_shard_[shard] < 0) {
      part_of_shard_[shard] = static_cast<int>(part_shard_.size());
      part_shard_.push_back(shard);
    }
  }
  size_t parts = part_shard_.size();
  part_backend_.clear();
  const bool read_replicas = kind == ReplyMerger::Kind::kMgetByPosition && worker_->options().read_from != ReadFrom::kMaster;
  for (int shard : part_shard_) {
    part_backend_.push_back(read_replicas ? worker_->ReadBackendForShard(shard) : worker_->BackendForShard(shard));
    if (part_backend_.back() == nullptr) {
      client->Reply(NoReplicaError(topology, shard));
      return;
    }
  }
  if (parts == 1) {
    PendingReply* p = client->NewPending();
    p->outstanding = 1;
    AppendRequest(part_backend_[0]->StartRequest(p, 0), argv, raw);
    return;
  }
  if (part_keys_.size() < parts) part_keys_.resize(parts);
  for (size_t i = 0; i < parts; ++i) part_keys_[i].clear();

  PendingReply* p = NewMergedReply(client, kind, parts);
  ReplyMerger* merger = p->merger.get();
  for (size_t k = 0; k < key_count; ++k) {
    uint32_t arg = static_cast<uint32_t>(1 + k * stride);
    int part = part_of_shard_[topology.ShardIndexForSlot(KeySlot(argv[arg]))];
    if (kind == ReplyMerger::Kind::kMgetByPosition) {
      merger->positions.emplace_back(part, static_cast<uint32_t>(part_keys_[part].size()));
    }
    part_keys_[part].push_back(arg);
  }
  for (size_t i = 0; i < parts; ++i) {
    Buffer* out = part_backend_[i]->StartRequest(p, static_cast<uint32_t>(i));
    AppendArrayHeader(out, static_cast<int64_t>(1 + part_keys_[i].size() * stride));
    AppendBulk(out, argv[0]);
    for (uint32_t arg : part_keys_[i]) {
      for (int s = 0; s < stride; ++s) AppendBulk(out, argv[arg + s]);
    }
  }
}

void CommandDispatcher::FanOut(ClientSession* client, std::span<const std::string_view> argv,
                               std::string_view raw, ReplyMerger::Kind kind) {
  size_t shards = worker_->topology().shards().size();
  PendingReply* p = NewMergedReply(client, kind, shards);
  for (size_t i = 0; i < shards; ++i) {
    AppendRequest(worker_->BackendForShard(static_cast<int>(i))->StartRequest(p, static_cast<uint32_t>(i)),
                  argv, raw);
  }
}

// WAIT numreplicas timeout: the client's writes went to any shard over
// shared connections, so each master is asked, on the client's own
// connection, to WAIT for an offset that covers them all: a PUBLISH (which
// redis-server replicates) first moves that connection's write offset to
// the master's current one. The reply is the least count over shards.
void CommandDispatcher::Wait(ClientSession* client, std::span<const std::string_view> argv,
                             std::string_view raw) {
  int64_t replicas = 0, timeout = 0;
  auto parse = [](std::string_view s, int64_t* v) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  if (!parse(argv[1], &replicas)) {
    client->Reply("-ERR value is not an integer or out of range\r\n");
    return;
  }
  if (!parse(argv[2], &timeout)) {
    client->Reply("-ERR timeout is not an integer or out of range\r\n");
    return;
  }
  if (timeout < 0) {
    client->Reply("-ERR timeout is negative\r\n");
    return;
  }
  static constexpr std::string_view kMoveWriteOffset = "*3\r\n$7\r\nPUBLISH\r\n$16\r\n__redkube__:wait\r\n$0\r\n\r\n";
  size_t shards = worker_->topology().shards().size();
  PendingReply* p = NewMergedReply(client, ReplyMerger::Kind::kMinInteger, shards);
  p->blocks = true;
  for (size_t i = 0; i < shards; ++i) {
    BackendConnection* own = client->OwnBackend(static_cast<int>(i));
    own->StartRequest(DroppedReplies(worker_, 1), 0)->Append(kMoveWriteOffset);
    AppendRequest(own->StartRequest(p, static_cast<uint32_t>(i)), argv, raw);
  }
}

void CommandDispatcher::Scan(ClientSession* client, std::span<const std::string_view> argv) {
  uint64_t cursor = 0;
  auto r = std::from_chars(argv[1].data(), argv[1].data() + argv[1].size(), cursor);
  size_t shards = worker_->topology().shards().size();
  if (r.ec != std::errc() || r.ptr != argv[1].data() + argv[1].size() ||
      cursor % kScanShardSlots >= shards) {
    client->Reply("-ERR invalid cursor\r\n");
    return;
  }
  uint32_t shard = static_cast<uint32_t>(cursor % kScanShardSlots);
  PendingReply* p = NewMergedReply(client, ReplyMerger::Kind::kScanCursor, 1);
  p->merger->scan_shard = shard;
  p->merger->scan_shard_count = static_cast<uint32_t>(shards);
  Buffer* out = worker_->BackendForShard(static_cast<int>(shard))->StartRequest(p, 0);
  AppendArrayHeader(out, static_cast<int64_t>(argv.size()));
  AppendBulk(out, argv[0]);
  AppendBulk(out, std::to_string(cursor / kScanShardSlots));
  for (size_t i = 2; i < argv.size(); ++i) AppendBulk(out, argv[i]);
}

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

}  // namespace

// INFO [section ...]: the proxy's own sections (proxy, clients, stats), the
// Server section of the first shard (so clients can read redis_version), and
// the keyspace summed over every shard. Sections that describe one server
// (memory, replication, ...) are left to the servers themselves.
void CommandDispatcher::Info(ClientSession* client, std::span<const std::string_view> argv) {
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
  size_t shards = worker_->topology().shards().size();
  PendingReply* p = NewMergedReply(client, ReplyMerger::Kind::kInfo, shards);
  p->merger->info_prefix = FilterInfoSections(worker_->InfoSections(), wants);
  // As in Redis, commandstats and latencystats are not default sections.
  auto wants_explicitly = [&](std::string_view section) {
    for (const auto& a : asked) {
      if (a == section || a == "all" || a == "everything") return true;
    }
    return false;
  };
  if (wants_explicitly("commandstats")) p->merger->info_prefix += worker_->server()->CommandstatsInfo();
  if (wants_explicitly("latencystats")) p->merger->info_prefix += worker_->server()->LatencystatsInfo();
  p->merger->info_server = wants("server");
  p->merger->info_keyspace = wants("keyspace");
  static constexpr std::string_view kInfoServerKeyspace[] = {"INFO", "server", "keyspace"};
  for (size_t i = 0; i < shards; ++i) {
    AppendRequest(worker_->BackendForShard(static_cast<int>(i))
                      ->StartRequest(p, static_cast<uint32_t>(i)),
                  kInfoServerKeyspace, {});
  }
}

}  // namespace redkube::proxy
