#include "runtime/cluster_view.h"

#include <algorithm>

namespace redkube::runtime {
namespace {

using nlohmann::json;

Status Malformed(const std::string& what) { return Status::Error("cluster record: " + what); }

Result<std::vector<std::string>> Strings(const json& doc, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!doc.contains(key) || doc[key].is_null()) return out;
  if (!doc[key].is_array()) return Malformed(where + "." + key + " is not an array");
  for (const auto& v : doc[key]) {
    if (!v.is_string()) return Malformed(where + "." + key + " holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A string field, "" when absent or null.
Result<std::string> StringField(const json& doc, const char* key, const std::string& where) {
  if (!doc.contains(key) || doc[key].is_null()) return std::string();
  if (!doc[key].is_string()) return Malformed(where + "." + key + " is not a string");
  return doc[key].get<std::string>();
}

Result<std::vector<SlotRange>> Slots(const json& doc, const std::string& where) {
  std::vector<SlotRange> out;
  if (!doc.contains("slots") || doc["slots"].is_null()) return out;
  if (!doc["slots"].is_array()) return Malformed(where + ".slots is not an array");
  for (const auto& r : doc["slots"]) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer() ||
        r[0].get<int>() > r[1].get<int>()) {
      return Malformed(where + ".slots holds " + r.dump() + ", not [first, last]");
    }
    out.push_back(SlotRange{r[0].get<int>(), r[1].get<int>()});
  }
  return out;
}

NodeHealthView HealthOf(const json& h) {
  NodeHealthView v;
  if (!h.is_object()) return v;
  auto str = [&](const char* key) {
    return h.contains(key) && h[key].is_string() ? h[key].get<std::string>() : "";
  };
  v.reachable = h.contains("reachable") && h["reachable"].is_boolean() && h["reachable"].get<bool>();
  v.role = str("role");
  v.replicating_from = str("replicating_from");
  v.link_up = h.contains("link_up") && h["link_up"].is_boolean() && h["link_up"].get<bool>();
  v.offset = h.contains("offset") && h["offset"].is_number_integer() ? h["offset"].get<int64_t>() : 0;
  return v;
}

bool Ended(const std::string& state) { return state == "done" || state == "failed" || state == "cancelled"; }

}  // namespace

int ShardView::SlotCount() const {
  int count = 0;
  for (const auto& r : slots) count += r.last - r.first + 1;
  return count;
}

const NodeView* ShardView::Node(const std::string& address) const {
  for (const auto& n : nodes) {
    if (n.address == address) return &n;
  }
  return nullptr;
}

std::vector<std::string> ShardView::Addresses() const {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(n.address);
  return out;
}

int ShardView::OutOfSync() const {
  return static_cast<int>(
      std::count_if(nodes.begin(), nodes.end(), [](const auto& n) { return !n.in_sync; }));
}

Result<ClusterView> ClusterView::FromJson(const json& doc) {
  if (!doc.is_object()) return Malformed("not a JSON object");
  ClusterView view;
  auto name = StringField(doc, "name", "record");
  if (!name.ok()) return name.status();
  view.name = name.value();
  if (doc.contains("epoch") && !doc["epoch"].is_null()) {
    if (!doc["epoch"].is_number_unsigned() && !doc["epoch"].is_number_integer()) {
      return Malformed("epoch is not a number");
    }
    view.epoch = doc["epoch"].get<uint64_t>();
  }
  view.complete = doc.contains("complete") && doc["complete"].is_boolean() && doc["complete"].get<bool>();
  auto leader = StringField(doc, "leader", "record");
  if (!leader.ok()) return leader.status();
  view.leader = leader.value();
  if (!doc.contains("shards") || !doc["shards"].is_array()) return Malformed("no \"shards\" array");
  const json health = doc.contains("health") && doc["health"].is_object() ? doc["health"] : json();
  for (const auto& s : doc["shards"]) {
    if (!s.is_object()) return Malformed("a shard is not an object");
    ShardView shard;
    auto id = StringField(s, "id", "shard");
    if (!id.ok()) return id.status();
    shard.id = id.value();
    const std::string where = "shard " + shard.id;
    auto master = StringField(s, "master", where);
    auto nodes = Strings(s, "nodes", where);
    auto down = Strings(s, "down", where);
    auto slots = Slots(s, where);
    for (const Status* st : {&master.status(), &nodes.status(), &down.status(), &slots.status()}) {
      if (!st->ok()) return *st;
    }
    shard.master = master.value();
    shard.slots = slots.value();
    for (const auto& address : nodes.value()) {
      NodeView node{.address = address};
      node.in_sync = std::find(down->begin(), down->end(), address) == down->end();
      if (!health.is_null() && health.contains(address)) node.health = HealthOf(health[address]);
      shard.nodes.push_back(std::move(node));
    }
    view.shards.push_back(std::move(shard));
  }
  if (doc.contains("migrations") && doc["migrations"].is_array()) {
    for (const auto& m : doc["migrations"]) {
      if (!m.is_object()) return Malformed("a migration is not an object");
      const std::string state =
          m.contains("state") && m["state"].is_string() ? m["state"].get<std::string>() : "";
      if (Ended(state)) {
        ++view.migrations.finished;
      } else {
        view.migrations.active_ids.push_back(
            m.contains("id") && m["id"].is_string() ? m["id"].get<std::string>() : "");
      }
    }
  }
  return view;
}

const ShardView* ClusterView::Shard(const std::string& id) const {
  for (const auto& s : shards) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::vector<std::string> ClusterView::ShardIds() const {
  std::vector<std::string> ids;
  for (const auto& s : shards) ids.push_back(s.id);
  return ids;
}

}  // namespace redkube::runtime
