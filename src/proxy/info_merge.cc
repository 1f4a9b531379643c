#include "proxy/info_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>

namespace redkube::proxy {
namespace {

using R = InfoRule;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

// redis-server 7.0's order, the proxy's own section first; display names.
struct SectionName {
  std::string_view key;
  std::string_view title;
};
constexpr SectionName kSections[] = {
    {"proxy", "Proxy"},
    {"server", "Server"},
    {"clients", "Clients"},
    {"memory", "Memory"},
    {"persistence", "Persistence"},
    {"stats", "Stats"},
    {"replication", "Replication"},
    {"cpu", "CPU"},
    {"modules", "Modules"},
    {"commandstats", "Commandstats"},
    {"errorstats", "Errorstats"},
    {"latencystats", "Latencystats"},
    {"cluster", "Cluster"},
    {"keyspace", "Keyspace"},
};

// INFO with no argument, or "default": redis-server's default sections
// ("module_list" is its name for "# Modules") and the proxy's.
constexpr std::string_view kDefaultSections[] = {"proxy",       "server",     "clients",     "memory",
                                                 "persistence", "stats",      "replication", "cpu",
                                                 "module_list", "errorstats", "cluster",     "keyspace"};

// Field rules, "section:field". Fields not listed take the first shard's
// value (kFirst); see also the per-section rules in InfoRuleFor.
const std::unordered_map<std::string_view, InfoRule>& RuleTable() {
  static const auto* table = new std::unordered_map<std::string_view, InfoRule>{
      // Server: the proxy's process; the rest (redis_version, os...) shard 0's.
      {"server:redis_mode", R::kProxy},
      {"server:process_id", R::kProxy},
      {"server:tcp_port", R::kProxy},
      {"server:server_time_usec", R::kProxy},
      {"server:uptime_in_seconds", R::kProxy},
      {"server:uptime_in_days", R::kProxy},
      {"server:executable", R::kProxy},
      {"server:config_file", R::kProxy},
      {"server:io_threads_active", R::kProxy},
      // Clients: the proxy's clients; what waits on the servers, summed.
      {"clients:connected_clients", R::kProxy},
      {"clients:cluster_connections", R::kProxy},
      {"clients:maxclients", R::kProxy},
      {"clients:client_recent_max_input_buffer", R::kMax},
      {"clients:client_recent_max_output_buffer", R::kMax},
      {"clients:blocked_clients", R::kSum},
      {"clients:tracking_clients", R::kSum},
      {"clients:clients_in_timeout_table", R::kSum},
      // Memory: bytes summed, ratios recomputed from the sums (or the worst).
      {"memory:used_memory", R::kSum},
      {"memory:used_memory_rss", R::kSum},
      {"memory:used_memory_peak", R::kSum},
      {"memory:used_memory_peak_perc", R::kRatio},
      {"memory:used_memory_overhead", R::kSum},
      {"memory:used_memory_startup", R::kSum},
      {"memory:used_memory_dataset", R::kSum},
      {"memory:used_memory_dataset_perc", R::kRatio},
      {"memory:allocator_allocated", R::kSum},
      {"memory:allocator_active", R::kSum},
      {"memory:allocator_resident", R::kSum},
      {"memory:total_system_memory", R::kMax},
      {"memory:used_memory_lua", R::kSum},
      {"memory:used_memory_vm_eval", R::kSum},
      {"memory:used_memory_scripts_eval", R::kSum},
      {"memory:number_of_cached_scripts", R::kMax},  // scripts are loaded on every master
      {"memory:number_of_functions", R::kMax},
      {"memory:number_of_libraries", R::kMax},
      {"memory:used_memory_vm_functions", R::kSum},
      {"memory:used_memory_vm_total", R::kSum},
      {"memory:used_memory_functions", R::kSum},
      {"memory:used_memory_scripts", R::kSum},
      {"memory:maxmemory", R::kSum},
      {"memory:maxmemory_policy", R::kFirst},
      {"memory:allocator_frag_ratio", R::kRatio},
      {"memory:allocator_frag_bytes", R::kSum},
      {"memory:allocator_rss_ratio", R::kRatio},
      {"memory:allocator_rss_bytes", R::kSum},
      {"memory:rss_overhead_ratio", R::kRatio},
      {"memory:rss_overhead_bytes", R::kSum},
      {"memory:mem_fragmentation_ratio", R::kRatio},
      {"memory:mem_fragmentation_bytes", R::kSum},
      {"memory:mem_not_counted_for_evict", R::kSum},
      {"memory:mem_replication_backlog", R::kSum},
      {"memory:mem_total_replication_buffers", R::kSum},
      {"memory:mem_clients_slaves", R::kSum},
      {"memory:mem_clients_normal", R::kSum},
      {"memory:mem_cluster_links", R::kSum},
      {"memory:mem_aof_buffer", R::kSum},
      {"memory:mem_allocator", R::kFirst},
      {"memory:active_defrag_running", R::kMax},
      {"memory:lazyfree_pending_objects", R::kSum},
      {"memory:lazyfreed_objects", R::kSum},
      // Persistence: a flag any shard raises, the longest time, the oldest
      // save, ok only if every shard is ok; counts summed.
      {"persistence:loading", R::kMax},
      {"persistence:async_loading", R::kMax},
      {"persistence:current_cow_peak", R::kMax},
      {"persistence:current_cow_size", R::kMax},
      {"persistence:current_cow_size_age", R::kMax},
      {"persistence:current_fork_perc", R::kMax},
      {"persistence:current_save_keys_processed", R::kSum},
      {"persistence:current_save_keys_total", R::kSum},
      {"persistence:rdb_changes_since_last_save", R::kSum},
      {"persistence:rdb_bgsave_in_progress", R::kMax},
      {"persistence:rdb_last_save_time", R::kMin},
      {"persistence:rdb_last_bgsave_status", R::kAllOk},
      {"persistence:rdb_last_bgsave_time_sec", R::kMax},
      {"persistence:rdb_current_bgsave_time_sec", R::kMax},
      {"persistence:rdb_saves", R::kSum},
      {"persistence:rdb_last_cow_size", R::kMax},
      {"persistence:rdb_last_load_keys_expired", R::kSum},
      {"persistence:rdb_last_load_keys_loaded", R::kSum},
      {"persistence:aof_enabled", R::kMax},
      {"persistence:aof_rewrite_in_progress", R::kMax},
      {"persistence:aof_rewrite_scheduled", R::kMax},
      {"persistence:aof_last_rewrite_time_sec", R::kMax},
      {"persistence:aof_current_rewrite_time_sec", R::kMax},
      {"persistence:aof_last_bgrewrite_status", R::kAllOk},
      {"persistence:aof_rewrites", R::kSum},
      {"persistence:aof_rewrites_consecutive_failures", R::kMax},
      {"persistence:aof_last_write_status", R::kAllOk},
      {"persistence:aof_last_cow_size", R::kMax},
      {"persistence:module_fork_in_progress", R::kMax},
      {"persistence:module_fork_last_cow_size", R::kMax},
      {"persistence:loading_start_time", R::kMin},
      {"persistence:loading_total_bytes", R::kSum},
      {"persistence:loading_rdb_used_mem", R::kSum},
      {"persistence:loading_loaded_bytes", R::kSum},
      {"persistence:loading_loaded_perc", R::kMin},
      {"persistence:loading_eta_seconds", R::kMax},
      // Stats: the proxy's connections; the servers' work summed.
      {"stats:total_connections_received", R::kProxy},
      {"stats:rejected_connections", R::kProxy},
      {"stats:total_commands_processed", R::kSum},
      {"stats:instantaneous_ops_per_sec", R::kSum},
      {"stats:total_net_input_bytes", R::kSum},
      {"stats:total_net_output_bytes", R::kSum},
      {"stats:total_net_repl_input_bytes", R::kSum},
      {"stats:total_net_repl_output_bytes", R::kSum},
      {"stats:instantaneous_input_kbps", R::kSum},
      {"stats:instantaneous_output_kbps", R::kSum},
      {"stats:instantaneous_input_repl_kbps", R::kSum},
      {"stats:instantaneous_output_repl_kbps", R::kSum},
      {"stats:sync_full", R::kSum},
      {"stats:sync_partial_ok", R::kSum},
      {"stats:sync_partial_err", R::kSum},
      {"stats:expired_keys", R::kSum},
      {"stats:expired_stale_perc", R::kMax},
      {"stats:expired_time_cap_reached_count", R::kSum},
      {"stats:expire_cycle_cpu_milliseconds", R::kSum},
      {"stats:evicted_keys", R::kSum},
      {"stats:evicted_clients", R::kSum},
      {"stats:total_eviction_exceeded_time", R::kSum},
      {"stats:current_eviction_exceeded_time", R::kMax},
      {"stats:keyspace_hits", R::kSum},
      {"stats:keyspace_misses", R::kSum},
      {"stats:pubsub_channels", R::kSum},  // a channel lives on the shard of its slot
      {"stats:pubsub_patterns", R::kMax},  // a pattern is subscribed on every shard
      {"stats:pubsubshard_channels", R::kSum},
      {"stats:latest_fork_usec", R::kMax},
      {"stats:total_forks", R::kSum},
      {"stats:migrate_cached_sockets", R::kSum},
      {"stats:slave_expires_tracked_keys", R::kSum},
      {"stats:active_defrag_hits", R::kSum},
      {"stats:active_defrag_misses", R::kSum},
      {"stats:active_defrag_key_hits", R::kSum},
      {"stats:active_defrag_key_misses", R::kSum},
      {"stats:total_active_defrag_time", R::kSum},
      {"stats:current_active_defrag_time", R::kMax},
      {"stats:tracking_total_keys", R::kSum},
      {"stats:tracking_total_items", R::kSum},
      {"stats:tracking_total_prefixes", R::kSum},
      {"stats:unexpected_error_replies", R::kSum},
      {"stats:total_error_replies", R::kSum},
      {"stats:dump_payload_sanitizations", R::kSum},
      {"stats:total_reads_processed", R::kSum},
      {"stats:total_writes_processed", R::kSum},
      {"stats:io_threaded_reads_processed", R::kSum},
      {"stats:io_threaded_writes_processed", R::kSum},
      {"stats:reply_buffer_shrinks", R::kSum},
      {"stats:reply_buffer_expands", R::kSum},
      // Replication: one master to the client; its replicas counted.
      {"replication:role", R::kProxy},
      {"replication:connected_slaves", R::kSum},
      {"replication:master_repl_offset", R::kSum},
      {"replication:repl_backlog_active", R::kMin},
      {"replication:repl_backlog_size", R::kSum},
      {"replication:repl_backlog_histlen", R::kSum},
  };
  return *table;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One INFO text, parsed: its sections (as the text names them) and fields.
struct Section {
  std::string key;  // lower-case name
  std::vector<std::pair<std::string_view, std::string_view>> fields;
};

std::vector<Section> Parse(std::string_view text) {
  std::vector<Section> out;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with("# ")) {
      out.push_back(Section{Lower(line.substr(2)), {}});
      continue;
    }
    size_t colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos || out.empty()) continue;
    out.back().fields.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return out;
}

const Section* Find(const std::vector<Section>& sections, std::string_view key) {
  for (const auto& s : sections) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string_view FieldOf(const Section* s, std::string_view field) {
  if (s == nullptr) return {};
  for (const auto& [name, value] : s->fields) {
    if (name == field) return value;
  }
  return {};
}

// A decimal number ("12", "-1", "0.25", "99.58%"), and how many digits it
// has after the point.
bool ParseNumber(std::string_view s, double* value, int* decimals) {
  if (s.ends_with('%')) s.remove_suffix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  size_t dot = s.find('.');
  *decimals = dot == std::string_view::npos ? 0 : static_cast<int>(s.size() - dot - 1);
  return true;
}

std::string Sum(std::span<const std::string_view> values) {
  int64_t isum = 0;
  bool integers = true;
  for (auto v : values) {
    int64_t n;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || __builtin_add_overflow(isum, n, &isum)) {
      integers = false;
      break;
    }
  }
  if (integers) return std::to_string(isum);
  double dsum = 0;
  int places = 0;
  for (auto v : values) {
    double d;
    int decimals;
    if (!ParseNumber(v, &d, &decimals)) return std::string(values[0]);  // not a number: shard 0's
    dsum += d;
    places = std::max(places, decimals);
  }
  return fmt::format("{:.{}f}", dsum, places);
}

// The value that is largest (more) or smallest (!more) as a number.
std::string Extreme(std::span<const std::string_view> values, bool more) {
  std::string_view best = values[0];
  double best_d = 0;
  int decimals;
  if (!ParseNumber(best, &best_d, &decimals)) return std::string(best);
  for (auto v : values.subspan(1)) {
    double d;
    if (!ParseNumber(v, &d, &decimals)) continue;
    if (more ? d > best_d : d < best_d) {
      best = v;
      best_d = d;
    }
  }
  return std::string(best);
}

std::string AllOk(std::span<const std::string_view> values) {
  for (auto v : values) {
    if (v != "ok") return std::string(v);
  }
  return "ok";
}

// "keys=3,expires=1,avg_ttl=500" lines: each number summed, in the order the
// sub-fields first appear; avg_ttl is the mean weighted by each shard's
// `expires` (the sum of averages means nothing).
std::string SumSubfields(std::span<const std::string_view> values) {
  std::vector<std::pair<std::string_view, std::string>> out;  // sub-field, its combined text
  std::vector<int64_t> sums;
  std::vector<bool> numeric;
  double ttl_weighted = 0;
  int64_t ttl_weight = 0;
  for (auto v : values) {
    int64_t expires = 0, avg_ttl = -1;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t eq = item.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view name = item.substr(0, eq), text = item.substr(eq + 1);
      size_t i = 0;
      while (i < out.size() && out[i].first != name) ++i;
      if (i == out.size()) {
        out.emplace_back(name, std::string(text));
        sums.push_back(0);
        numeric.push_back(true);
      }
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) {
        numeric[i] = false;
        continue;
      }
      if (__builtin_add_overflow(sums[i], n, &sums[i])) sums[i] = INT64_MAX;  // INFO text: saturate
      if (name == "expires") expires = n;
      if (name == "avg_ttl") avg_ttl = n;
    }
    if (avg_ttl >= 0) {
      ttl_weighted += static_cast<double>(avg_ttl) * static_cast<double>(expires);
      ttl_weight += expires;
    }
  }
  std::string text;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) text += ',';
    text.append(out[i].first).append("=");
    if (out[i].first == "avg_ttl" && numeric[i]) {
      text +=
          std::to_string(ttl_weight > 0 ? static_cast<int64_t>(std::llround(ttl_weighted / ttl_weight)) : 0);
    } else if (numeric[i]) {
      text += std::to_string(sums[i]);
    } else {
      text += out[i].second;
    }
  }
  return text;
}

// A merged section under construction: its fields in order, values as text.
using Fields = std::vector<std::pair<std::string, std::string>>;

double NumberOf(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    double d;
    int decimals;
    if (n == name && ParseNumber(v, &d, &decimals)) return d;
  }
  return 0;
}

bool Has(const Fields& fields, std::string_view name) {
  return std::any_of(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; });
}

std::string Ratio(double numerator, double denominator, bool percent) {
  double r = denominator > 0 ? numerator / denominator : 0;
  return percent ? fmt::format("{:.2f}%", r * 100) : fmt::format("{:.2f}", r);
}

// Ratios as redis-server computes them, from the combined figures.
std::string RecomputedRatio(const Fields& f, std::string_view field, std::string_view first) {
  if (field == "mem_fragmentation_ratio")
    return Ratio(NumberOf(f, "used_memory_rss"), NumberOf(f, "used_memory"), false);
  if (field == "allocator_frag_ratio")
    return Ratio(NumberOf(f, "allocator_active"), NumberOf(f, "allocator_allocated"), false);
  if (field == "allocator_rss_ratio")
    return Ratio(NumberOf(f, "allocator_resident"), NumberOf(f, "allocator_active"), false);
  if (field == "rss_overhead_ratio")
    return Ratio(NumberOf(f, "used_memory_rss"), NumberOf(f, "allocator_resident"), false);
  if (field == "used_memory_peak_perc")
    return Ratio(NumberOf(f, "used_memory"), NumberOf(f, "used_memory_peak"), true);
  if (field == "used_memory_dataset_perc") {
    double net = NumberOf(f, "used_memory") - NumberOf(f, "used_memory_startup");
    return Ratio(NumberOf(f, "used_memory_dataset"), net > 1 ? net : 1, true);
  }
  return std::string(first);
}

void AppendSection(std::string* out, std::string_view title, const Fields& fields) {
  if (!out->empty()) out->append("\r\n");
  out->append("# ").append(title).append("\r\n");
  for (const auto& [name, value] : fields) out->append(name).append(":").append(value).append("\r\n");
}

// One section combined over the shards (`key`: lower-case name), with the
// proxy's own fields of that section (`own`, may be null).
Fields MergeSection(std::string_view key, const Section* own,
                    const std::vector<std::vector<Section>>& shards) {
  std::vector<std::string_view> names;
  std::unordered_map<std::string_view, std::vector<std::string_view>> values;
  for (const auto& shard : shards) {
    const Section* s = Find(shard, key);
    if (s == nullptr) continue;
    for (const auto& [name, value] : s->fields) {
      auto& v = values[name];
      if (v.empty()) names.push_back(name);
      v.push_back(value);
    }
  }
  if (own != nullptr) {
    for (const auto& [name, value] : own->fields) {
      if (!values.count(name)) names.push_back(name);
    }
  }
  Fields merged;
  std::vector<std::pair<size_t, InfoRule>> derived;  // computed once the others are
  for (auto name : names) {
    const InfoRule rule = InfoRuleFor(key, name);
    const auto& v = values[name];
    std::string_view mine = FieldOf(own, name);
    std::string value;
    if (v.empty() || (rule == R::kProxy && mine.data() != nullptr)) {
      value = mine;  // only the proxy gives it, or the proxy's own
    } else {
      switch (rule) {
        case R::kDrop:
          continue;
        case R::kSum:
          value = Sum(v);
          break;
        case R::kMax:
          value = Extreme(v, true);
          break;
        case R::kMin:
          value = Extreme(v, false);
          break;
        case R::kAllOk:
          value = AllOk(v);
          break;
        case R::kSubfields:
          value = SumSubfields(v);
          break;
        case R::kHuman:
        case R::kRatio:
          derived.emplace_back(merged.size(), rule);
          value = v[0];
          break;
        case R::kFirst:
        case R::kProxy:
          value = v[0];
          break;
      }
    }
    merged.emplace_back(std::string(name), std::move(value));
  }
  for (auto [index, rule] : derived) {
    const std::string& name = merged[index].first;
    if (rule == R::kRatio) {
      merged[index].second = RecomputedRatio(merged, name, merged[index].second);
    } else {
      std::string_view bytes_field = std::string_view(name).substr(0, name.size() - 6);  // "_human"
      if (Has(merged, bytes_field)) {
        merged[index].second =
            BytesToHuman(static_cast<uint64_t>(std::max(0.0, NumberOf(merged, bytes_field))));
      }
    }
  }
  return merged;
}

}  // namespace

InfoSelection::InfoSelection(std::span<const std::string_view> args) {
  if (args.empty()) {
    names_.assign(std::begin(kDefaultSections), std::end(kDefaultSections));
    return;
  }
  for (auto a : args) {
    std::string name = Lower(a);
    if (name == "all" || name == "everything") {
      all_ = true;
    } else if (name == "default") {
      names_.insert(names_.end(), std::begin(kDefaultSections), std::end(kDefaultSections));
    } else {
      names_.push_back(std::move(name));
    }
  }
}

bool InfoSelection::Wants(std::string_view section) const {
  if (all_ && IsProxyOwnedSection(section)) return true;
  if (all_) {
    for (const auto& s : kSections) {
      if (s.key == section) return true;
    }
  }
  if (names_.empty() && !all_) {
    // Default-constructed: INFO with no argument.
    for (auto d : kDefaultSections) {
      if (d == section || (section == "modules" && d == "module_list")) return true;
    }
    return false;
  }
  for (const auto& n : names_) {
    if (n == section || (section == "modules" && n == "module_list")) return true;
  }
  return false;
}

std::vector<std::string_view> InfoSelection::ServerSections() const {
  std::vector<std::string_view> out;
  for (const auto& s : kSections) {
    if (!IsProxyOwnedSection(s.key) && Wants(s.key)) out.push_back(s.key);
  }
  return out;
}

bool IsProxyOwnedSection(std::string_view section) {
  return section == "proxy" || section == "cpu" || section == "commandstats" || section == "latencystats" ||
         section == "cluster";
}

InfoRule InfoRuleFor(std::string_view section, std::string_view field) {
  if (section == "keyspace" || section == "errorstats") return R::kSubfields;
  if (IsProxyOwnedSection(section)) return R::kProxy;
  if (section == "replication" && field.starts_with("slave") && IsDigits(field.substr(5))) return R::kDrop;
  if (field.ends_with("_human")) return R::kHuman;
  std::string key = std::string(section) + ":" + std::string(field);
  const auto& table = RuleTable();
  auto it = table.find(key);
  return it == table.end() ? R::kFirst : it->second;
}

std::string MergeInfo(const InfoSelection& selection, std::string_view proxy_text,
                      std::span<const std::string_view> shard_texts) {
  const std::vector<Section> own = Parse(proxy_text);
  std::vector<std::vector<Section>> shards;
  shards.reserve(shard_texts.size());
  for (auto t : shard_texts) shards.push_back(Parse(t));
  std::string out;
  for (const auto& [key, title] : kSections) {
    if (!selection.Wants(key)) continue;
    const Section* mine = Find(own, key);
    if (IsProxyOwnedSection(key)) {
      Fields fields;
      if (mine != nullptr) {
        for (const auto& [n, v] : mine->fields) fields.emplace_back(std::string(n), std::string(v));
      }
      AppendSection(&out, title, fields);
    } else {
      AppendSection(&out, title, MergeSection(key, mine, shards));
    }
  }
  return out;
}

std::string BytesToHuman(uint64_t n) {
  constexpr double k = 1024;
  if (n < 1024) return fmt::format("{}B", n);
  if (n < 1024ull * 1024) return fmt::format("{:.2f}K", n / k);
  if (n < 1024ull * 1024 * 1024) return fmt::format("{:.2f}M", n / (k * k));
  if (n < 1024ull * 1024 * 1024 * 1024) return fmt::format("{:.2f}G", n / (k * k * k));
  if (n < 1024ull * 1024 * 1024 * 1024 * 1024) return fmt::format("{:.2f}T", n / (k * k * k * k));
  if (n < 1024ull * 1024 * 1024 * 1024 * 1024 * 1024) return fmt::format("{:.2f}P", n / (k * k * k * k * k));
  return fmt::format("{}B", n);
}

}  // namespace redkube::proxy
