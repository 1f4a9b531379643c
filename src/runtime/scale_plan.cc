#include "runtime/scale_plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace redkube::runtime {
namespace {

using nlohmann::json;

constexpr int kSlots = 16384;

const json* FindMigration(const json& listing, const std::string& id) {
  if (!listing.is_object() || !listing.contains("migrations") || !listing["migrations"].is_array()) {
    return nullptr;
  }
  for (const auto& m : listing["migrations"]) {
    if (m.value("id", "") == id) return &m;
  }
  return nullptr;
}

}  // namespace

int SlotsOwned(const ClusterView& record, const std::string& id) {
  const ShardView* shard = record.Shard(id);
  return shard == nullptr ? 0 : shard->SlotCount();
}

bool SlotsBalanced(const ClusterView& record, const std::vector<std::string>& kept) {
  if (kept.empty()) return false;
  const int low = kSlots / static_cast<int>(kept.size());
  const int high = low + (kSlots % static_cast<int>(kept.size()) == 0 ? 0 : 1);
  int total = 0;
  for (const auto& id : kept) {
    int owned = SlotsOwned(record, id);
    if (owned < low || owned > high) return false;
    total += owned;
  }
  for (const auto& shard : record.shards) {
    if (std::find(kept.begin(), kept.end(), shard.id) == kept.end() && shard.SlotCount() > 0) return false;
  }
  return total == kSlots;
}

double NumberOr(const json& doc, const char* key, double fallback) {
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_number()) return fallback;
  return doc[key].get<double>();
}

bool MigrationActive(const json& migration) {
  std::string state = migration.value("state", "");
  return state != "done" && state != "failed" && state != "cancelled";
}

std::vector<std::string> ActiveMigrations(const json& listing) {
  std::vector<std::string> ids;
  if (!listing.is_object() || !listing.contains("migrations") || !listing["migrations"].is_array())
    return ids;
  for (const auto& m : listing["migrations"]) {
    if (MigrationActive(m)) ids.push_back(m.value("id", ""));
  }
  return ids;
}

MigrationProgress SumProgress(const json& listing, const std::vector<std::string>& ids) {
  MigrationProgress p;
  p.total = static_cast<int>(ids.size());
  for (const auto& id : ids) {
    const json* m = FindMigration(listing, id);
    if (m == nullptr) {
      ++p.finished;
      continue;
    }
    std::string state = m->value("state", "");
    p.slots_done += static_cast<int64_t>(NumberOr(*m, "slots_done", 0));
    p.slots_total += static_cast<int64_t>(NumberOr(*m, "slots_total", 0));
    p.keys_moved += static_cast<int64_t>(NumberOr(*m, "keys_moved", 0));
    p.bytes_moved += static_cast<int64_t>(NumberOr(*m, "bytes_moved", 0));
    if (!MigrationActive(*m)) {
      ++p.finished;
    } else if (state == "queued") {
      ++p.queued;
    } else if (state == "paused") {
      ++p.paused;
    } else {
      ++p.running;
      p.keys_per_s += NumberOr(*m, "keys_per_s", 0);
      double eta = NumberOr(*m, "eta_s", -1);
      p.eta_s = eta < 0 || p.eta_s < 0 ? -1 : p.eta_s + eta;
    }
    for (const auto& proxy : m->value("waiting_for", json::array())) {
      if (proxy.is_string()) p.waiting_for.push_back(proxy.get<std::string>());
    }
  }
  return p;
}

std::optional<std::string> MigrationFailure(const json& listing, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    const json* m = FindMigration(listing, id);
    if (m == nullptr) continue;
    std::string state = m->value("state", "");
    if (state != "failed" && state != "cancelled") continue;
    std::string message = m->value("message", "");
    return fmt::format("migration {} ({} -> {}) {}{}", id, m->value("from", "?"), m->value("to", "?"), state,
                       message.empty() ? "" : ": " + message);
  }
  return std::nullopt;
}

std::string HumanCount(double n) {
  if (n < 1000) return fmt::format("{:.0f}", n);
  if (n < 1e6) return fmt::format("{:.1f}k", n / 1e3);
  if (n < 1e9) return fmt::format("{:.1f}M", n / 1e6);
  return fmt::format("{:.1f}G", n / 1e9);
}

std::string HumanDuration(double seconds) {
  if (!(seconds >= 0)) return "-";  // also NaN
  int64_t s = std::llround(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

std::string ProgressBar(int64_t done, int64_t total, int width) {
  int filled = total <= 0 ? 0 : static_cast<int>(std::min<int64_t>(done, total) * width / total);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

std::string ProgressText(const MigrationProgress& p) {
  std::string text =
      fmt::format("{} {}/{} slots  {} keys  {} keys/s  ETA {}", ProgressBar(p.slots_done, p.slots_total, 24),
                  p.slots_done, p.slots_total, HumanCount(static_cast<double>(p.keys_moved)),
                  HumanCount(p.keys_per_s), p.running > 0 ? HumanDuration(p.eta_s) : "-");
  std::vector<std::string> states;
  if (p.running > 0) states.push_back(fmt::format("{} running", p.running));
  if (p.queued > 0) states.push_back(fmt::format("{} queued", p.queued));
  if (p.paused > 0) states.push_back(fmt::format("{} paused", p.paused));
  if (p.finished > 0) states.push_back(fmt::format("{} done", p.finished));
  if (!states.empty()) {
    text += "  (";
    for (size_t i = 0; i < states.size(); ++i) text += (i ? ", " : "") + states[i];
    text += ")";
  }
  if (!p.waiting_for.empty()) {
    text += "  waiting for proxy";
    for (const auto& proxy : p.waiting_for) text += " " + proxy;
  }
  return text;
}

}  // namespace redkube::runtime
