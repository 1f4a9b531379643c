// An in-memory ConfigServerApi for workflow tests: one record per cluster,
// in the JSON the real ConfigServer answers (so ClusterView::FromJson reads
// it as it reads the real one). Registration does what the real one does
// to the record (the first node of a new shard is master, a recorded master
// is kept), and keeps the replicas out of sync until the test syncs them
// (or, with `sync_on_read`, until the record has been read once more).
//
// Scaling as docs/migration.md has it: shards are added empty and deleted
// only when they own no slots and no unfinished migration uses them; a
// rebalance (refused while migrations are unfinished) plans as the real
// planner does (every kept shard 16384/N, the first ones one more; donors
// give from the end of their ranges; one migration per donor and receiver)
// and queues the migrations, which then move nothing until the test starts,
// finishes or fails them. The answers carry the real ones' messages.
//
// It can be made unreachable. Mutating calls (and the test's migration
// moves) are appended to `*events` when set, so a test can check their
// order against a fake platform's. Single-threaded.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/configserver_api.h"
#include "runtime/shard_name.h"

namespace redkube::runtime::testing {

class FakeConfigServer : public ConfigServerApi {
 public:
  Result<std::optional<ClusterView>> FindCluster(const std::string& name) override {
    ++calls["FindCluster"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    auto it = records.find(name);
    if (it == records.end()) return std::optional<ClusterView>();
    auto view = ClusterView::FromJson(it->second);
    if (!view.ok()) return view.status();
    if (sync_on_read) SyncReplicas(name);  // seen out of sync once: in sync at the next read
    return std::optional<ClusterView>(view.value());
  }

  Status CreateCluster(const std::string& name, int shards) override {
    ++calls["CreateCluster"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    if (records.count(name)) return Status::Ok();
    nlohmann::json list = nlohmann::json::array();
    int first = 0;
    for (int i = 0; i < shards; ++i) {
      int size = 16384 / shards + (i < 16384 % shards ? 1 : 0);
      list.push_back({{"id", ShardGroupName(i)},
                      {"slots", {{first, first + size - 1}}},
                      {"master", ""},
                      {"nodes", nlohmann::json::array()},
                      {"down", nlohmann::json::array()}});
      first += size;
    }
    records[name] = {{"name", name}, {"epoch", 1}, {"shards", list}, {"migrations", nlohmann::json::array()}};
    return Status::Ok();
  }

  Status RegisterShard(const std::string& cluster, const std::string& shard,
                       const std::vector<std::string>& nodes) override {
    ++calls["RegisterShard"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    nlohmann::json* s = Shard(cluster, shard);
    if (s == nullptr) return Status::Error("cluster " + cluster + " has no shard " + shard);
    if (nodes.empty()) return Status::Error("\"nodes\" must list at least one host:port");
    std::string master = (*s)["master"].get<std::string>();
    if (master.empty()) master = nodes.front();
    if (std::find(nodes.begin(), nodes.end(), master) == nodes.end()) {
      return Status::Error("shard " + shard + "'s master " + master + " is not in the list");
    }
    nlohmann::json down = nlohmann::json::array();
    for (const auto& n : nodes) {
      if (n != master) down.push_back(n);  // joining: out of the read set until in sync
    }
    (*s)["master"] = master;
    (*s)["nodes"] = nodes;
    (*s)["down"] = down;
    Bump(cluster);
    Note("register " + shard);
    return Status::Ok();
  }

  Status AddShard(const std::string& cluster, const std::string& id) override {
    ++calls["AddShard"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    if (!records.count(cluster)) return Status::Error("no cluster named " + cluster);
    if (Shard(cluster, id) != nullptr) return Status::Ok();  // 409, which the client takes as done
    records[cluster]["shards"].push_back({{"id", id},
                                          {"slots", nlohmann::json::array()},
                                          {"master", ""},
                                          {"nodes", nlohmann::json::array()},
                                          {"down", nlohmann::json::array()}});
    Bump(cluster);
    Note("add " + id);
    return Status::Ok();
  }

  Status DeleteShard(const std::string& cluster, const std::string& id) override {
    ++calls["DeleteShard"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    if (!records.count(cluster)) return Status::Error("no cluster named " + cluster);
    if (Shard(cluster, id) == nullptr) return Status::Ok();  // 404, which the client takes as done
    if (int owned = SlotCount(cluster, id); owned > 0) {
      return Status::Error("shard " + id + " still owns " + std::to_string(owned) +
                           " slots; move them away first (rebalance without it)");
    }
    for (const auto& m : migrations[cluster]) {
      if (Unfinished(m) && (m["from"] == id || m["to"] == id)) {
        return Status::Error("shard " + id + " is in a migration");
      }
    }
    auto& list = records[cluster]["shards"];
    if (list.size() == 1) return Status::Error("the last shard of a cluster cannot be deleted");
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]["id"] == id) {
        list.erase(i);
        break;
      }
    }
    Bump(cluster);
    Note("delete " + id);
    return Status::Ok();
  }

  Result<std::vector<std::string>> Rebalance(const std::string& cluster,
                                             const std::vector<std::string>& shards,
                                             const Throttle& throttle) override {
    ++calls["Rebalance"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    if (!records.count(cluster)) return Status::Error("no cluster named " + cluster);
    for (const auto& m : migrations[cluster]) {
      if (Unfinished(m))
        return Status::Error("migrations are in progress; wait for them, or cancel them, first");
    }
    if (shards.empty()) return Status::Error("at least one shard must keep slots");
    for (const auto& id : shards) {
      const nlohmann::json* s = Shard(cluster, id);
      if (s == nullptr) return Status::Error("no shard " + id);
      if ((*s)["master"] == "") return Status::Error("shard " + id + " has no registered master yet");
    }
    std::string asked;
    for (const auto& id : shards) asked += (asked.empty() ? "" : ",") + id;
    Note("rebalance " + asked);
    last_throttle = throttle;

    // What each shard gives (its last slots beyond its share) and needs.
    const int n = static_cast<int>(shards.size());
    std::vector<std::string> owners = Owners(cluster);
    std::vector<std::pair<std::string, std::vector<int>>> gives;  // donor -> slots, highest first
    std::vector<std::pair<std::string, int>> needs;               // receiver -> count
    for (const auto& shard : records[cluster]["shards"]) {
      const std::string id = shard["id"];
      auto kept = std::find(shards.begin(), shards.end(), id);
      const int i = static_cast<int>(kept - shards.begin());
      const int target = kept == shards.end() ? 0 : 16384 / n + (i < 16384 % n ? 1 : 0);
      std::vector<int> mine;
      for (int slot = 16383; slot >= 0; --slot) {
        if (owners[slot] == id) mine.push_back(slot);
      }
      if (static_cast<int>(mine.size()) > target) {
        mine.resize(mine.size() - target);
        gives.emplace_back(id, mine);
      }
    }
    for (int i = 0; i < n; ++i) {
      const int target = 16384 / n + (i < 16384 % n ? 1 : 0);
      if (int owned = SlotCount(cluster, shards[i]); owned < target)
        needs.emplace_back(shards[i], target - owned);
    }
    std::vector<std::string> ids;
    size_t r = 0;
    for (auto& [donor, slots] : gives) {
      size_t next = 0;
      while (next < slots.size() && r < needs.size()) {
        const int take = std::min<int>(static_cast<int>(slots.size() - next), needs[r].second);
        std::vector<int> moved(slots.begin() + next, slots.begin() + next + take);
        std::sort(moved.begin(), moved.end());
        const std::string id = "m-" + std::to_string(++migrations_created);
        migrations[cluster].push_back({{"id", id},
                                       {"from", donor},
                                       {"to", needs[r].first},
                                       {"state", "queued"},
                                       {"slots", Ranges(moved)},
                                       {"slots_total", take},
                                       {"slots_done", 0},
                                       {"keys_moved", 0},
                                       {"bytes_moved", 0},
                                       {"keys_per_s", 0},
                                       {"eta_s", nullptr},
                                       {"waiting_for", nlohmann::json::array()},
                                       {"message", ""}});
        ids.push_back(id);
        next += take;
        if ((needs[r].second -= take) == 0) ++r;
      }
    }
    return ids;
  }

  Result<nlohmann::json> ListMigrations(const std::string& cluster) override {
    ++calls["ListMigrations"];
    if (!reachable) return Status::Error("no ConfigServer answered (fake: unreachable)");
    if (!records.count(cluster)) return Status::Error("no cluster named " + cluster);
    nlohmann::json list = migrations[cluster].is_array() ? migrations[cluster] : nlohmann::json::array();
    return nlohmann::json{
        {"epoch", records[cluster]["epoch"]}, {"migrations", list}, {"proxies", nlohmann::json::array()}};
  }

  // What the test does to migrations (as the ConfigServer's mover would).
  //
  // Queued -> running.
  void StartMigration(const std::string& cluster, const std::string& id) {
    if (nlohmann::json* m = Migration(cluster, id)) (*m)["state"] = "running";
  }
  // Moves the first `slots` of the migration not moved yet to its target
  // (every one when -1) with 10 keys a slot; done when it has moved them all.
  void MoveSlots(const std::string& cluster, const std::string& id, int slots = -1) {
    nlohmann::json* m = Migration(cluster, id);
    if (m == nullptr || !Unfinished(*m)) return;
    std::vector<std::string> owners = Owners(cluster);
    const std::string from = (*m)["from"], to = (*m)["to"];
    int moved = 0;
    for (const auto& range : (*m)["slots"]) {
      for (int slot = range[0].get<int>(); slot <= range[1].get<int>(); ++slot) {
        if (owners[slot] != from || (slots >= 0 && moved == slots)) continue;
        owners[slot] = to;
        ++moved;
      }
    }
    SetOwners(cluster, owners);
    (*m)["state"] = "running";
    (*m)["slots_done"] = (*m)["slots_done"].get<int>() + moved;
    (*m)["keys_moved"] = (*m)["keys_moved"].get<int>() + 10 * moved;
    (*m)["bytes_moved"] = (*m)["bytes_moved"].get<int>() + 1000 * moved;
    if ((*m)["slots_done"] == (*m)["slots_total"]) {
      (*m)["state"] = "done";
      Note("done " + id);
    }
  }
  void FinishAll(const std::string& cluster) {
    for (const auto& m : nlohmann::json(migrations[cluster])) MoveSlots(cluster, m["id"]);
  }
  // Ends it failed with `message` (what moved stays moved).
  void FailMigration(const std::string& cluster, const std::string& id, const std::string& message) {
    nlohmann::json* m = Migration(cluster, id);
    if (m == nullptr) return;
    (*m)["state"] = "failed";
    (*m)["message"] = message;
    Note("failed " + id);
  }

  // Every replica of `cluster` in sync (their links up).
  void SyncReplicas(const std::string& cluster) {
    for (auto& s : records[cluster]["shards"]) s["down"] = nlohmann::json::array();
  }
  // Shard `shard`'s master is now `master` (a failover).
  void SetMaster(const std::string& cluster, const std::string& shard, const std::string& master) {
    if (nlohmann::json* s = Shard(cluster, shard)) (*s)["master"] = master;
  }

  nlohmann::json* Shard(const std::string& cluster, const std::string& shard) {
    auto it = records.find(cluster);
    if (it == records.end()) return nullptr;
    for (auto& s : it->second["shards"]) {
      if (s["id"] == shard) return &s;
    }
    return nullptr;
  }
  nlohmann::json* Migration(const std::string& cluster, const std::string& id) {
    for (auto& m : migrations[cluster]) {
      if (m["id"] == id) return &m;
    }
    return nullptr;
  }
  // Slots owned by `shard` (0 when absent).
  int SlotCount(const std::string& cluster, const std::string& shard) {
    const std::vector<std::string> owners = Owners(cluster);
    return static_cast<int>(std::count(owners.begin(), owners.end(), shard));
  }
  // The owner of each of the 16384 slots ("" for none), from the record.
  std::vector<std::string> Owners(const std::string& cluster) {
    std::vector<std::string> owners(16384);
    for (const auto& s : records[cluster]["shards"]) {
      for (const auto& range : s["slots"]) {
        for (int slot = range[0].get<int>(); slot <= range[1].get<int>(); ++slot) owners[slot] = s["id"];
      }
    }
    return owners;
  }

  bool reachable = true;
  bool sync_on_read = false;
  std::map<std::string, nlohmann::json> records;
  std::map<std::string, nlohmann::json> migrations;  // cluster -> array, as listed
  std::map<std::string, int> calls;
  std::vector<std::string>* events = nullptr;
  Throttle last_throttle;

 private:
  static bool Unfinished(const nlohmann::json& m) {
    return m["state"] != "done" && m["state"] != "failed" && m["state"] != "cancelled";
  }
  static nlohmann::json Ranges(const std::vector<int>& sorted) {
    nlohmann::json ranges = nlohmann::json::array();
    for (int slot : sorted) {
      if (!ranges.empty() && ranges.back()[1].get<int>() + 1 == slot) {
        ranges.back()[1] = slot;
      } else {
        ranges.push_back({slot, slot});
      }
    }
    return ranges;
  }
  void SetOwners(const std::string& cluster, const std::vector<std::string>& owners) {
    for (auto& s : records[cluster]["shards"]) {
      std::vector<int> mine;
      for (int slot = 0; slot < 16384; ++slot) {
        if (owners[slot] == s["id"]) mine.push_back(slot);
      }
      s["slots"] = Ranges(mine);
    }
    Bump(cluster);
  }
  void Bump(const std::string& cluster) {
    records[cluster]["epoch"] = records[cluster]["epoch"].get<int>() + 1;
  }
  void Note(const std::string& event) {
    if (events != nullptr) events->push_back(event);
  }

  int migrations_created = 0;
};

// A ConfigServerApi that forwards to one the test owns (what a
// ConfigServerFactory returns).
class BorrowedConfigServer : public ConfigServerApi {
 public:
  explicit BorrowedConfigServer(ConfigServerApi* api) : api_(api) {}
  Result<std::optional<ClusterView>> FindCluster(const std::string& name) override {
    return api_->FindCluster(name);
  }
  Status CreateCluster(const std::string& name, int shards) override {
    return api_->CreateCluster(name, shards);
  }
  Status RegisterShard(const std::string& cluster, const std::string& shard,
                       const std::vector<std::string>& nodes) override {
    return api_->RegisterShard(cluster, shard, nodes);
  }
  Status AddShard(const std::string& cluster, const std::string& id) override {
    return api_->AddShard(cluster, id);
  }
  Status DeleteShard(const std::string& cluster, const std::string& id) override {
    return api_->DeleteShard(cluster, id);
  }
  Result<std::vector<std::string>> Rebalance(const std::string& cluster,
                                             const std::vector<std::string>& shards,
                                             const Throttle& throttle) override {
    return api_->Rebalance(cluster, shards, throttle);
  }
  Result<nlohmann::json> ListMigrations(const std::string& cluster) override {
    return api_->ListMigrations(cluster);
  }

 private:
  ConfigServerApi* api_;
};

}  // namespace redkube::runtime::testing
