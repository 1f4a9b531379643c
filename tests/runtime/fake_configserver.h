// An in-memory ConfigServerApi for workflow tests: one record per cluster,
// in the JSON the real ConfigServer answers (so ClusterView::FromJson reads
// it as it reads the real one). Registration does what the real one does
// to the record (the first node of a new shard is master, a recorded master
// is kept), and keeps the replicas out of sync until the test syncs them.
// It can be made unreachable. Single-threaded.
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
    records[cluster]["epoch"] = records[cluster]["epoch"].get<int>() + 1;
    return Status::Ok();
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

  bool reachable = true;
  std::map<std::string, nlohmann::json> records;
  std::map<std::string, int> calls;
};

// A ConfigServerApi that forwards to one the test owns (what a
// CreateWorkflow::ConfigServerFactory returns).
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

 private:
  ConfigServerApi* api_;
};

}  // namespace redkube::runtime::testing
