#include "configserver/cluster_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "runtime/shard_name.h"

namespace redkube::configserver {
namespace {

using nlohmann::json;

json StringList(const std::vector<std::string>& v) {
  json out = json::array();
  for (const auto& s : v) out.push_back(s);
  return out;
}

Status ReadStringList(const json& j, const char* field, std::vector<std::string>* out) {
  if (!j.contains(field)) return Status::Ok();
  if (!j[field].is_array()) return Status::Error(fmt::format("\"{}\" must be an array", field));
  for (const auto& e : j[field]) {
    if (!e.is_string()) return Status::Error(fmt::format("\"{}\" must hold strings", field));
    out->push_back(e.get<std::string>());
  }
  return Status::Ok();
}

json SlotsJson(const std::vector<SlotRange>& ranges) {
  json out = json::array();
  for (const auto& r : ranges) out.push_back({r.first, r.last});
  return out;
}

Status ReadSlots(const json& j, const char* field, std::vector<SlotRange>* out) {
  if (!j.contains(field)) return Status::Ok();
  if (!j[field].is_array()) return Status::Error(fmt::format("\"{}\" must be an array", field));
  for (const auto& r : j[field]) {
    if (!r.is_array() || r.size() != 2) return Status::Error("cluster record: bad slot range");
    out->push_back({r[0].get<int>(), r[1].get<int>()});
  }
  return Status::Ok();
}

constexpr std::pair<MigrationState, const char*> kStateNames[] = {
    {MigrationState::kQueued, "queued"}, {MigrationState::kRunning, "running"},
    {MigrationState::kPaused, "paused"}, {MigrationState::kCancelling, "cancelling"},
    {MigrationState::kDone, "done"},     {MigrationState::kCancelled, "cancelled"},
    {MigrationState::kFailed, "failed"},
};

json MigrationJson(const MigrationRecord& m) {
  json held = json::array();
  for (const auto& k : m.held_keys) held.push_back(HexEncode(k));
  return {{"id", m.id},
          {"from", m.from},
          {"to", m.to},
          {"slots", SlotsJson(m.slots)},
          {"done", SlotsJson(m.done)},
          {"step", SlotsJson(m.step)},
          {"step_epoch", m.step_epoch},
          {"held_keys", held},
          {"held_epoch", m.held_epoch},
          {"state", MigrationStateName(m.state)},
          {"throttle", {{"keys_per_s", m.throttle.keys_per_s}, {"bytes_per_s", m.throttle.bytes_per_s}}},
          {"keys_moved", m.keys_moved},
          {"bytes_moved", m.bytes_moved},
          {"surveyed_slots", m.surveyed_slots},
          {"surveyed_keys", m.surveyed_keys},
          {"keys_per_s", m.keys_per_s},
          {"bytes_per_s", m.bytes_per_s},
          {"created_ms", m.created_ms},
          {"started_ms", m.started_ms},
          {"finished_ms", m.finished_ms},
          {"waiting_for", StringList(m.waiting_for)},
          {"message", m.message}};
}

Result<MigrationRecord> ParseMigration(const json& j) {
  if (!j.is_object()) return Status::Error("cluster record: migration is not an object");
  MigrationRecord m;
  m.id = j.value("id", "");
  m.from = j.value("from", "");
  m.to = j.value("to", "");
  for (auto [field, out] : {std::pair{"slots", &m.slots}, {"done", &m.done}, {"step", &m.step}}) {
    if (Status st = ReadSlots(j, field, out); !st.ok()) return st;
  }
  m.step_epoch = j.value("step_epoch", uint64_t{0});
  std::vector<std::string> held;
  if (Status st = ReadStringList(j, "held_keys", &held); !st.ok()) return st;
  for (const auto& h : held) {
    auto key = HexDecode(h);
    if (!key) return Status::Error("cluster record: held key is not hex");
    m.held_keys.push_back(std::move(*key));
  }
  m.held_epoch = j.value("held_epoch", uint64_t{0});
  auto state = ParseMigrationState(j.value("state", ""));
  if (!state) return Status::Error("cluster record: unknown migration state");
  m.state = *state;
  if (j.contains("throttle") && j["throttle"].is_object()) {
    m.throttle.keys_per_s = j["throttle"].value("keys_per_s", int64_t{0});
    m.throttle.bytes_per_s = j["throttle"].value("bytes_per_s", int64_t{0});
  }
  m.keys_moved = j.value("keys_moved", int64_t{0});
  m.bytes_moved = j.value("bytes_moved", int64_t{0});
  m.surveyed_slots = j.value("surveyed_slots", int64_t{0});
  m.surveyed_keys = j.value("surveyed_keys", int64_t{0});
  m.keys_per_s = j.value("keys_per_s", 0.0);
  m.bytes_per_s = j.value("bytes_per_s", 0.0);
  m.created_ms = j.value("created_ms", int64_t{0});
  m.started_ms = j.value("started_ms", int64_t{0});
  m.finished_ms = j.value("finished_ms", int64_t{0});
  if (Status st = ReadStringList(j, "waiting_for", &m.waiting_for); !st.ok()) return st;
  m.message = j.value("message", "");
  return m;
}

// What proxies see, epoch aside: the shards that have a master, and the
// steps being moved.
json PublishedBody(const ClusterRecord& record) {
  json shards = json::array();
  for (const auto& s : record.shards) {
    if (s.master.empty()) continue;  // a new shard not registered yet: owns no slots
    json replicas = json::array();
    for (const auto& n : s.nodes) {
      if (n != s.master && !s.IsDown(n)) replicas.push_back(n);
    }
    json shard = {{"id", s.id}, {"master", s.master}, {"replicas", replicas}, {"slots", SlotsJson(s.slots)}};
    if (s.fenced) shard["fenced"] = true;
    shards.push_back(std::move(shard));
  }
  json migrations = json::array();
  for (const auto& m : record.migrations) {
    if (m.Finished() || m.step.empty()) continue;
    json held = json::array();
    for (const auto& k : m.held_keys) held.push_back(HexEncode(k));
    migrations.push_back({{"slots", SlotsJson(m.step)}, {"from", m.from}, {"to", m.to}, {"held_keys", held}});
  }
  return {{"shards", shards}, {"migrations", migrations}};
}

}  // namespace

bool ShardRecord::IsDown(const std::string& node) const {
  return std::find(down.begin(), down.end(), node) != down.end();
}

bool ShardRecord::HasNode(const std::string& node) const {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

void ShardRecord::MarkDown(const std::string& node) {
  if (HasNode(node) && !IsDown(node)) down.push_back(node);
}

void ShardRecord::MarkUp(const std::string& node) {
  down.erase(std::remove(down.begin(), down.end(), node), down.end());
}

void ShardRecord::RemoveNode(const std::string& node) {
  MarkUp(node);
  nodes.erase(std::remove(nodes.begin(), nodes.end(), node), nodes.end());
}

ShardRecord* ClusterRecord::FindShard(const std::string& id) {
  for (auto& s : shards) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

const ShardRecord* ClusterRecord::FindShard(const std::string& id) const {
  return const_cast<ClusterRecord*>(this)->FindShard(id);
}

MigrationRecord* ClusterRecord::FindMigration(const std::string& id) {
  for (auto& m : migrations) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const MigrationRecord* ClusterRecord::FindMigration(const std::string& id) const {
  return const_cast<ClusterRecord*>(this)->FindMigration(id);
}

bool ClusterRecord::Complete() const {
  auto in_migration = [this](const std::string& id) {
    return std::any_of(migrations.begin(), migrations.end(),
                       [&](const auto& m) { return !m.Finished() && (m.from == id || m.to == id); });
  };
  return !shards.empty() && std::all_of(shards.begin(), shards.end(), [&](const auto& s) {
    return !s.master.empty() || (s.slots.empty() && !in_migration(s.id));
  });
}

void ClusterRecord::TrimFinishedMigrations(size_t keep) {
  size_t finished =
      std::count_if(migrations.begin(), migrations.end(), [](const auto& m) { return m.Finished(); });
  for (auto it = migrations.begin(); it != migrations.end() && finished > keep;) {
    if (it->Finished()) {
      it = migrations.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

std::string ClusterRecord::ToJson() const {
  json doc = {{"name", name}, {"epoch", epoch}, {"shards", json::array()}};
  for (const auto& s : shards) {
    json shard = {{"id", s.id},
                  {"slots", SlotsJson(s.slots)},
                  {"master", s.master},
                  {"nodes", StringList(s.nodes)},
                  {"down", StringList(s.down)}};
    if (!s.switching_to.empty()) {
      shard["switching_to"] = s.switching_to;
      shard["switching_until_ms"] = s.switching_until_ms;
    }
    if (s.fenced) {
      shard["fenced"] = true;
      shard["fence_epoch"] = s.fence_epoch;
    }
    doc["shards"].push_back(std::move(shard));
  }
  doc["migrations"] = json::array();
  for (const auto& m : migrations) doc["migrations"].push_back(MigrationJson(m));
  doc["migrations_created"] = migrations_created;
  if (!server_settings.empty() || settings_version != 0) {
    doc["server_settings"] = server_settings;
    doc["settings_version"] = settings_version;
  }
  return doc.dump();
}

Result<ClusterRecord> ClusterRecord::FromJson(std::string_view text) {
  // Our own writes produce this document; a type error still must not throw
  // out of the store, so it becomes an error value.
  try {
    return ParseRecord(text);
  } catch (const json::exception& e) {
    return Status::Error(std::string("cluster record: ") + e.what());
  }
}

Result<ClusterRecord> ClusterRecord::ParseRecord(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Status::Error("cluster record is not JSON");
  ClusterRecord record;
  record.name = doc.value("name", "");
  record.epoch = doc.value("epoch", uint64_t{1});
  if (!doc.contains("shards") || !doc["shards"].is_array()) {
    return Status::Error("cluster record has no shards");
  }
  for (const auto& j : doc["shards"]) {
    if (!j.is_object()) return Status::Error("cluster record: shard is not an object");
    ShardRecord s;
    s.id = j.value("id", "");
    s.master = j.value("master", "");
    if (Status st = ReadSlots(j, "slots", &s.slots); !st.ok()) return st;
    if (Status st = ReadStringList(j, "nodes", &s.nodes); !st.ok()) return st;
    if (Status st = ReadStringList(j, "down", &s.down); !st.ok()) return st;
    s.switching_to = j.value("switching_to", "");
    s.switching_until_ms = j.value("switching_until_ms", int64_t{0});
    s.fenced = j.value("fenced", false);
    s.fence_epoch = j.value("fence_epoch", uint64_t{0});
    record.shards.push_back(std::move(s));
  }
  if (doc.contains("migrations")) {
    if (!doc["migrations"].is_array()) return Status::Error("cluster record: migrations is not an array");
    for (const auto& j : doc["migrations"]) {
      auto m = ParseMigration(j);
      if (!m.ok()) return m.status();
      record.migrations.push_back(std::move(m.value()));
    }
  }
  record.migrations_created = doc.value("migrations_created", uint64_t{0});
  if (doc.contains("server_settings")) {
    for (const auto& [param, value] : doc["server_settings"].items()) {
      record.server_settings[param] = value.get<std::string>();
    }
  }
  record.settings_version = doc.value("settings_version", uint64_t{0});
  return record;
}

ClusterRecord NewCluster(const std::string& name, int shard_count) {
  ClusterRecord record;
  record.name = name;
  int base = kSlotCount / shard_count, extra = kSlotCount % shard_count;
  int first = 0;
  for (int i = 0; i < shard_count; ++i) {
    int size = base + (i < extra ? 1 : 0);
    ShardRecord s;
    s.id = runtime::ShardGroupName(i);  // the one naming the platforms follow
    s.slots.push_back({first, first + size - 1});
    first += size;
    record.shards.push_back(std::move(s));
  }
  return record;
}

std::string PublishedTopology(const ClusterRecord& record) {
  json body = PublishedBody(record);
  json doc = {{"cluster", record.name},
              {"epoch", record.epoch},
              {"shards", std::move(body["shards"])},
              {"migrations", std::move(body["migrations"])}};
  return doc.dump();
}

bool MergeServerSettings(ClusterRecord* record, const std::map<std::string, std::string>& settings) {
  bool changed = false;
  for (const auto& [param, value] : settings) {
    auto [it, inserted] = record->server_settings.try_emplace(param, value);
    if (!inserted && it->second == value) continue;
    it->second = value;
    changed = true;
  }
  if (changed) ++record->settings_version;
  return changed;
}

bool PublishedTopologyDiffers(const ClusterRecord& a, const ClusterRecord& b) {
  return a.name != b.name || PublishedBody(a) != PublishedBody(b);
}

nlohmann::json MigrationStatusJson(const MigrationRecord& m) {
  json doc = MigrationJson(m);
  int total = 0, done = 0;
  for (const auto& r : m.slots) total += r.last - r.first + 1;
  for (const auto& r : m.done) done += r.last - r.first + 1;
  doc["slots_total"] = total;
  doc["slots_done"] = done;
  doc["slots_left"] = total - done;
  doc["eta_s"] = nullptr;
  doc["keys_estimated"] = nullptr;
  if (m.surveyed_slots > 0) {
    double estimated = static_cast<double>(m.surveyed_keys) / static_cast<double>(m.surveyed_slots) * total;
    doc["keys_estimated"] = static_cast<int64_t>(estimated);
    if (m.keys_per_s > 0 && !m.Finished()) {
      doc["eta_s"] = std::max(0.0, estimated - static_cast<double>(m.keys_moved)) / m.keys_per_s;
    }
  }
  if (m.state == MigrationState::kDone) doc["eta_s"] = 0;
  return doc;
}

const char* MigrationStateName(MigrationState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "unknown";
}

std::optional<MigrationState> ParseMigrationState(std::string_view name) {
  for (const auto& [s, n] : kStateNames) {
    if (name == n) return s;
  }
  return std::nullopt;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace redkube::configserver
