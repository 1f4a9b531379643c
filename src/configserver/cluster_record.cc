#include "configserver/cluster_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

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

json PublishedShards(const ClusterRecord& record) {
  json shards = json::array();
  for (const auto& s : record.shards) {
    json replicas = json::array();
    for (const auto& n : s.nodes) {
      if (n != s.master && !s.IsDown(n)) replicas.push_back(n);
    }
    shards.push_back(
        {{"id", s.id}, {"master", s.master}, {"replicas", replicas}, {"slots", SlotsJson(s.slots)}});
  }
  return shards;
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

bool ClusterRecord::Complete() const {
  return !shards.empty() &&
         std::all_of(shards.begin(), shards.end(), [](const auto& s) { return !s.master.empty(); });
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
    doc["shards"].push_back(std::move(shard));
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
    if (j.contains("slots")) {
      for (const auto& r : j["slots"]) {
        if (!r.is_array() || r.size() != 2) return Status::Error("cluster record: bad slot range");
        s.slots.push_back({r[0].get<int>(), r[1].get<int>()});
      }
    }
    if (Status st = ReadStringList(j, "nodes", &s.nodes); !st.ok()) return st;
    if (Status st = ReadStringList(j, "down", &s.down); !st.ok()) return st;
    s.switching_to = j.value("switching_to", "");
    s.switching_until_ms = j.value("switching_until_ms", int64_t{0});
    record.shards.push_back(std::move(s));
  }
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
    s.id = "shard-" + std::to_string(i);
    s.slots.push_back({first, first + size - 1});
    first += size;
    record.shards.push_back(std::move(s));
  }
  return record;
}

std::string PublishedTopology(const ClusterRecord& record) {
  json doc = {{"cluster", record.name},
              {"epoch", record.epoch},
              {"shards", PublishedShards(record)},
              {"migrations", json::array()}};
  return doc.dump();
}

bool PublishedTopologyDiffers(const ClusterRecord& a, const ClusterRecord& b) {
  return a.name != b.name || PublishedShards(a) != PublishedShards(b);
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
