#include "core/topology.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "core/strings.h"

namespace redkube {
namespace {

using nlohmann::json;

Status ParseRanges(const json& j, const std::string& where, std::vector<SlotRange>* out) {
  if (!j.is_array()) return Status::Error(where + ": \"slots\" must be an array of [first, last]");
  for (const auto& r : j) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer()) {
      return Status::Error(where + ": each slot range must be [first, last] with integers, got " + r.dump());
    }
    int64_t first = r[0].get<int64_t>(), last = r[1].get<int64_t>();
    if (first < 0 || last >= kSlotCount || first > last) {
      return Status::Error(
          fmt::format("{}: slot range [{}, {}] is outside 0..16383 or reversed", where, first, last));
    }
    out->push_back({static_cast<int>(first), static_cast<int>(last)});
  }
  return Status::Ok();
}

// "held_keys": lowercase hex strings (keys are bytes, JSON strings are not).
Status ParseHeldKeys(const json& j, const std::string& where, std::vector<std::string>* out) {
  if (!j.is_array()) return Status::Error(where + ": \"held_keys\" must be an array of hex strings");
  for (const auto& k : j) {
    if (!k.is_string()) return Status::Error(where + ": each held key must be a hex string, got " + k.dump());
    auto key = HexDecode(k.get_ref<const std::string&>());
    if (!key) {
      return Status::Error(fmt::format(
          "{}: held key \"{}\" is not lowercase hex of the key's bytes (two digits 0-9a-f per byte)", where,
          k.get_ref<const std::string&>()));
    }
    out->push_back(std::move(*key));
  }
  return Status::Ok();
}

bool InRanges(const std::vector<SlotRange>& ranges, int slot) {
  for (const SlotRange& r : ranges) {
    if (slot >= r.first && slot <= r.last) return true;
  }
  return false;
}

json RangesToJson(const std::vector<SlotRange>& ranges) {
  json out = json::array();
  for (const auto& r : ranges) out.push_back({r.first, r.last});
  return out;
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::Error(fmt::format("address \"{}\" is not host:port", text));
  }
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return Status::Error(fmt::format("address \"{}\" has no valid port (1-65535)", text));
  }
  return HostPort{std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

Result<std::shared_ptr<const Topology>> Topology::FromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Error("topology is not valid JSON");
  if (!doc.is_object()) return Status::Error("topology must be a JSON object");

  auto topology = std::make_shared<Topology>();
  if (!doc.contains("cluster") || !doc["cluster"].is_string() || doc["cluster"].get<std::string>().empty()) {
    return Status::Error("topology: \"cluster\" must be a non-empty string");
  }
  topology->cluster_ = doc["cluster"].get<std::string>();
  if (!doc.contains("epoch") || !doc["epoch"].is_number_unsigned()) {
    return Status::Error("topology: \"epoch\" must be a non-negative integer");
  }
  topology->epoch_ = doc["epoch"].get<uint64_t>();
  if (!doc.contains("shards") || !doc["shards"].is_array() || doc["shards"].empty()) {
    return Status::Error("topology: \"shards\" must be a non-empty array");
  }
  if (doc["shards"].size() > 4096) return Status::Error("topology: more than 4096 shards");

  topology->slot_owner_.fill(-1);
  topology->slot_importer_.fill(-1);
  std::set<std::string> ids;
  for (const auto& s : doc["shards"]) {
    std::string where = fmt::format("shard #{}", topology->shards_.size());
    if (!s.is_object()) return Status::Error(where + " must be an object");
    Shard shard;
    if (!s.contains("id") || !s["id"].is_string() || s["id"].get<std::string>().empty()) {
      return Status::Error(where + ": \"id\" must be a non-empty string");
    }
    shard.id = s["id"].get<std::string>();
    where = "shard " + shard.id;
    if (!ids.insert(shard.id).second) return Status::Error(where + ": duplicate shard id");
    if (!s.contains("master") || !s["master"].is_string()) {
      return Status::Error(where + ": \"master\" must be a \"host:port\" string");
    }
    auto master = ParseHostPort(s["master"].get<std::string>());
    if (!master.ok()) return Status::Error(where + ": master " + master.error());
    shard.master = master.value();
    if (s.contains("replicas")) {
      if (!s["replicas"].is_array()) return Status::Error(where + ": \"replicas\" must be an array");
      for (const auto& r : s["replicas"]) {
        if (!r.is_string()) return Status::Error(where + ": replicas must be \"host:port\" strings");
        auto replica = ParseHostPort(r.get<std::string>());
        if (!replica.ok()) return Status::Error(where + ": replica " + replica.error());
        shard.replicas.push_back(replica.value());
      }
    }
    if (s.contains("fenced")) {
      if (!s["fenced"].is_boolean()) return Status::Error(where + ": \"fenced\" must be true or false");
      shard.fenced = s["fenced"].get<bool>();
    }
    Status st = ParseRanges(s.contains("slots") ? s["slots"] : json::array(), where, &shard.slots);
    if (!st.ok()) return st;
    int16_t index = static_cast<int16_t>(topology->shards_.size());
    for (const auto& r : shard.slots) {
      for (int slot = r.first; slot <= r.last; ++slot) {
        int16_t owner = topology->slot_owner_[slot];
        if (owner != -1) {
          return Status::Error(fmt::format("slot {} is assigned twice: to shard {} and to shard {}", slot,
                                           topology->shards_[owner].id, shard.id));
        }
        topology->slot_owner_[slot] = index;
      }
    }
    topology->shards_.push_back(std::move(shard));
  }
  for (int slot = 0; slot < kSlotCount; ++slot) {
    if (topology->slot_owner_[slot] == -1) {
      int last = slot;
      while (last + 1 < kSlotCount && topology->slot_owner_[last + 1] == -1) ++last;
      return Status::Error(
          fmt::format("slots {}..{} are not assigned to any shard (all 16384 must be)", slot, last));
    }
  }

  if (doc.contains("migrations")) {
    if (!doc["migrations"].is_array()) return Status::Error("\"migrations\" must be an array");
    for (const auto& m : doc["migrations"]) {
      if (!m.is_object() || !m.contains("from") || !m.contains("to") || !m["from"].is_string() ||
          !m["to"].is_string()) {
        return Status::Error("each migration needs \"slots\", \"from\" and \"to\"");
      }
      Migration migration;
      migration.from = m["from"].get<std::string>();
      migration.to = m["to"].get<std::string>();
      std::string where = "migration " + migration.from + " -> " + migration.to;
      if (!ids.count(migration.from) || !ids.count(migration.to) || migration.from == migration.to) {
        return Status::Error(where + ": \"from\" and \"to\" must be two different known shards");
      }
      Status st = ParseRanges(m.contains("slots") ? m["slots"] : json(), where, &migration.slots);
      if (!st.ok()) return st;
      int16_t importer = 0;
      while (topology->shards_[importer].id != migration.to) ++importer;
      for (const auto& r : migration.slots) {
        for (int slot = r.first; slot <= r.last; ++slot) {
          if (topology->shards_[topology->slot_owner_[slot]].id != migration.from) {
            return Status::Error(fmt::format("{}: slot {} is not owned by {}", where, slot, migration.from));
          }
          if (topology->slot_importer_[slot] != -1) {
            return Status::Error(fmt::format("{}: slot {} is already in another migration", where, slot));
          }
          topology->slot_importer_[slot] = importer;
        }
      }
      if (m.contains("held_keys")) {
        st = ParseHeldKeys(m["held_keys"], where, &migration.held_keys);
        if (!st.ok()) return st;
        for (const std::string& key : migration.held_keys) {
          if (!InRanges(migration.slots, KeySlot(key))) {
            return Status::Error(fmt::format("{}: held key \"{}\" (slot {}) is not in the migration's slots",
                                             where, HexEncode(key), KeySlot(key)));
          }
        }
      }
      topology->migrations_.push_back(std::move(migration));
    }
  }
  return std::shared_ptr<const Topology>(std::move(topology));
}

std::string Topology::ToJson() const {
  json doc;
  doc["cluster"] = cluster_;
  doc["epoch"] = epoch_;
  doc["shards"] = json::array();
  for (const auto& s : shards_) {
    json replicas = json::array();
    for (const auto& r : s.replicas) replicas.push_back(r.ToString());
    json shard = {{"id", s.id},
                  {"master", s.master.ToString()},
                  {"replicas", replicas},
                  {"slots", RangesToJson(s.slots)}};
    if (s.fenced) shard["fenced"] = true;
    doc["shards"].push_back(std::move(shard));
  }
  doc["migrations"] = json::array();
  for (const auto& m : migrations_) {
    json entry = {{"slots", RangesToJson(m.slots)}, {"from", m.from}, {"to", m.to}};
    if (!m.held_keys.empty()) {
      entry["held_keys"] = json::array();
      for (const std::string& key : m.held_keys) entry["held_keys"].push_back(HexEncode(key));
    }
    doc["migrations"].push_back(std::move(entry));
  }
  return doc.dump();
}

}  // namespace redkube
