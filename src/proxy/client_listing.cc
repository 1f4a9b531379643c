#include "proxy/client_listing.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/strings.h"
#include "proxy/command_stats.h"
#include "proxy/command_table.h"
#include "proxy/reply_mode.h"

namespace redkube::proxy {
namespace {

ClientType TypeOf(const ClientState& state) {
  return state.subscriptions.active() ? ClientType::kPubsub : ClientType::kNormal;
}

// redis-server's flag letters, in its order, for what a proxy client can be.
std::string FlagsOf(const ClientState& s, const ClientConnectionView& view) {
  char flags[8];
  size_t n = 0;
  if (s.subscriptions.active()) flags[n++] = 'P';
  if (s.transaction.in_multi) flags[n++] = 'x';
  if (view.blocked) flags[n++] = 'b';
  if (s.closing) flags[n++] = 'c';
  if (s.no_evict) flags[n++] = 'e';
  if (s.no_touch) flags[n++] = 'T';
  if (n == 0) flags[n++] = 'N';
  return std::string(flags, n);
}

std::string_view CommandName(uint16_t index) {
  auto specs = CommandIndex::Instance().specs();
  return index < specs.size() ? specs[index]->name : std::string_view("NULL");
}

}  // namespace

std::optional<ClientType> ClientTypeByName(std::string_view name) {
  if (EqualsIgnoreCase(name, "normal")) return ClientType::kNormal;
  if (EqualsIgnoreCase(name, "replica") || EqualsIgnoreCase(name, "slave")) return ClientType::kReplica;
  if (EqualsIgnoreCase(name, "pubsub")) return ClientType::kPubsub;
  if (EqualsIgnoreCase(name, "master")) return ClientType::kMaster;
  return std::nullopt;
}

std::string ClientInfoLine(const ClientState& s, const ClientConnectionView& view, int64_t now_ms) {
  const ClientSubscriptions& subs = s.subscriptions;
  const ClientTransaction& txn = s.transaction;
  const size_t qbuf = view.input_bytes;
  const size_t omem = view.output_bytes;
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} "
      "multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem={} rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem={} "
      "events={} cmd={} user=default redir=-1 resp={}",
      s.id, s.peer, s.local, s.fd, s.name, (now_ms - s.created_ms) / 1000, (now_ms - s.last_read_ms) / 1000,
      FlagsOf(s, view), subs.channels.size(), subs.patterns.size(), subs.shard_channels.size(),
      txn.in_multi ? static_cast<int64_t>(txn.count) : -1, qbuf, txn.queued.size(), omem, qbuf + omem,
      view.writing ? "rw" : "r", CommandName(s.last_command), s.resp);
}

bool ClientFilter::Matches(const ClientState& s, int64_t now_ms) const {
  if (s.fd < 0) return false;  // closed, freed at the end of the loop iteration
  if (!ids.empty() && std::find(ids.begin(), ids.end(), s.id) == ids.end()) return false;
  if (type && *type != TypeOf(s)) return false;
  if (addr && *addr != s.peer) return false;
  if (laddr && *laddr != s.local) return false;
  if (user && *user != "default") return false;
  if (max_age_s > 0 && (now_ms - s.created_ms) / 1000 <= max_age_s) return false;
  if (skip_id != 0 && s.id == skip_id) return false;
  return true;
}

std::optional<std::string> ParseKillFilter(std::span<const std::string_view> argv, uint64_t asker_id,
                                           ClientFilter* filter, bool* old_form) {
  static const std::string kSyntax = "-ERR syntax error\r\n";
  *old_form = argv.size() == 3;
  if (*old_form) {
    filter->addr = std::string(argv[2]);  // the old form may kill the asker itself
    return std::nullopt;
  }
  bool skipme = true;
  for (size_t i = 2; i < argv.size(); i += 2) {
    if (i + 1 >= argv.size()) return kSyntax;
    std::string_view option = argv[i];
    std::string_view value = argv[i + 1];
    if (EqualsIgnoreCase(option, "id")) {
      std::optional<int64_t> id = ParseInt64(value);
      if (!id || *id < 1) return std::string("-ERR client-id should be greater than 0\r\n");
      filter->ids.assign(1, static_cast<uint64_t>(*id));
    } else if (EqualsIgnoreCase(option, "type")) {
      filter->type = ClientTypeByName(value);
      if (!filter->type) return fmt::format("-ERR Unknown client type '{}'\r\n", OneLine(value));
    } else if (EqualsIgnoreCase(option, "addr")) {
      filter->addr = std::string(value);
    } else if (EqualsIgnoreCase(option, "laddr")) {
      filter->laddr = std::string(value);
    } else if (EqualsIgnoreCase(option, "user")) {
      if (value != "default") return fmt::format("-ERR No such user '{}'\r\n", OneLine(value));
      filter->user = std::string(value);
    } else if (EqualsIgnoreCase(option, "skipme")) {
      if (EqualsIgnoreCase(value, "yes")) {
        skipme = true;
      } else if (EqualsIgnoreCase(value, "no")) {
        skipme = false;
      } else {
        return kSyntax;
      }
    } else if (EqualsIgnoreCase(option, "maxage")) {
      std::optional<int64_t> age = ParseInt64(value);
      if (!age || *age < 1) return std::string("-ERR maxage should be greater than 0\r\n");
      filter->max_age_s = *age;
    } else {
      return kSyntax;
    }
  }
  filter->skip_id = skipme ? asker_id : 0;
  return std::nullopt;
}

}  // namespace redkube::proxy
