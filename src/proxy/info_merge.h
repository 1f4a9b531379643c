// INFO through the proxy, as the pure part: which sections a request asks
// for (redis-server 7.0's rules for "default", "all", "everything" and
// section names), which sections the masters must be asked for, and how
// the masters' INFO texts and the proxy's own figures combine into the one
// text a redis-server would give, field by field (InfoRuleFor: the table
// docs/proxy.md describes). No sockets, no clocks: unit-tested on texts.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redkube::proxy {

// The sections an INFO request asks for.
class InfoSelection {
 public:
  InfoSelection() = default;  // INFO with no argument: the default sections
  // The arguments after INFO, any case.
  explicit InfoSelection(std::span<const std::string_view> args);

  // `section`: a lower-case section name ("server", "commandstats", "proxy").
  bool Wants(std::string_view section) const;
  // "INFO <these>" for each master: the server-side sections the answer
  // needs (empty: none, the proxy answers alone).
  std::vector<std::string_view> ServerSections() const;

 private:
  bool all_ = false;  // "all" and "everything" (no module sections exist here)
  std::vector<std::string> names_;
};

enum class InfoRule : uint8_t {
  kFirst,      // the first shard's value (also: any field the table does not know)
  kProxy,      // the proxy's own value (the first shard's if the proxy gives none)
  kSum,        // summed over the shards (integers, or decimals with 2 places)
  kMax,        // the largest (a flag any shard raises, the worst ratio)
  kMin,        // the smallest (the oldest save)
  kAllOk,      // "ok" if every shard says ok, else the first other value
  kHuman,      // X_human: recomputed from the combined X bytes
  kRatio,      // recomputed from combined fields (mem_fragmentation_ratio...)
  kSubfields,  // "a=1,b=2" lines (keyspace dbN, errorstat_*): each number summed
  kDrop,       // per-server only (slaveN: a replica's address): left out
};

// The rule for `field` of `section` (lower-case section name).
InfoRule InfoRuleFor(std::string_view section, std::string_view field);

// Sections the proxy writes itself in full: a server's are not used.
bool IsProxyOwnedSection(std::string_view section);

// The INFO text for `selection`. proxy_text: the proxy's own sections in
// INFO form ("# Proxy", "# CPU", ... and, in "# Server", "# Clients",
// "# Stats", "# Replication", "# Cluster", the fields the proxy owns).
// shard_texts: each master's INFO reply text, shard 0 first. Sections come
// in redis-server's order, after the proxy's own "# Proxy".
std::string MergeInfo(const InfoSelection& selection, std::string_view proxy_text,
                      std::span<const std::string_view> shard_texts);

// redis-server's bytesToHuman: 1023B, 918.99K, 11.55M, 23.59G...
std::string BytesToHuman(uint64_t bytes);

}  // namespace redkube::proxy
