#include "runtime/local/local_layout.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace redkube::runtime {
namespace {

bool ValidClusterName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::string LocalClusterSpec::ToJson() const {
  return nlohmann::json{
      {"name", name}, {"shards", shards}, {"replicas", replicas}, {"proxies", proxies}, {"port", port}}
      .dump(2);
}

Result<LocalClusterSpec> LocalClusterSpec::FromJson(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Status::Error("not a JSON object");
  LocalClusterSpec spec;
  for (auto [key, field] : {std::pair{"shards", &spec.shards},
                            {"replicas", &spec.replicas},
                            {"proxies", &spec.proxies},
                            {"port", &spec.port}}) {
    if (!doc.contains(key) || !doc[key].is_number_integer()) {
      return Status::Error(std::string("\"") + key + "\" must be an integer");
    }
    *field = doc[key].get<int>();
  }
  if (!doc.contains("name") || !doc["name"].is_string()) return Status::Error("\"name\" must be a string");
  spec.name = doc["name"].get<std::string>();
  return spec;
}

Result<LocalLayout> LocalLayout::Make(const LocalClusterSpec& spec, const std::string& base_dir) {
  if (!ValidClusterName(spec.name)) {
    return Status::Error("cluster name \"" + spec.name + "\" must be 1-63 characters of a-z, 0-9 and -");
  }
  if (spec.shards < 1 || spec.shards > kMaxShards) {
    return Status::Error("--shards must be between 1 and " + std::to_string(kMaxShards));
  }
  if (spec.replicas < 0 || spec.replicas >= kMaxMembersPerShard) {
    return Status::Error("--replicas must be between 0 and " + std::to_string(kMaxMembersPerShard - 1));
  }
  if (spec.proxies < 1 || spec.proxies > kMaxProxies) {
    return Status::Error("--proxies must be between 1 and " + std::to_string(kMaxProxies));
  }
  int highest = spec.port + 100 + 10 * spec.shards;
  if (spec.port < 1024 || highest > 65535) {
    return Status::Error("--port must leave room for " + std::to_string(highest - spec.port) +
                         " ports above it (1024-" + std::to_string(65535 - (highest - spec.port)) + ")");
  }
  std::string dir = base_dir.empty() ? "." : base_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return LocalLayout(spec, dir + "/" + spec.name);
}

int LocalLayout::MaxShards(int port) { return std::min(kMaxShards, (65535 - port - 100) / 10); }

Result<LocalLayout> LocalLayout::WithShards(int shards) const {
  if (shards < 1 || shards > MaxShards(spec_.port)) {
    return Status::Error(fmt::format(
        "--shards must be between 1 and {} for cluster {} (member m of shard s listens on {}+100+10*s+m)",
        MaxShards(spec_.port), spec_.name, spec_.port));
  }
  LocalLayout layout = *this;
  layout.spec_.shards = shards;
  return layout;
}

std::vector<int> LocalLayout::AllPorts() const {
  std::vector<int> ports;
  for (int i = 0; i < spec_.proxies; ++i) ports.push_back(ProxyPort(i));
  ports.push_back(EtcdClientPort());
  ports.push_back(EtcdPeerPort());
  for (int i = 0; i < kConfigServers; ++i) ports.push_back(ConfigServerPort(i));
  for (int i = 0; i < spec_.proxies; ++i) ports.push_back(ProxyAdminPort(i));
  for (int s = 0; s < spec_.shards; ++s) {
    for (int m = 0; m <= spec_.replicas; ++m) ports.push_back(ServerPort(s, m));
  }
  return ports;
}

std::string LocalLayout::ServerDataDir(int shard, int member) const {
  return cluster_dir_ + "/" + ServerName(shard, member);
}

std::string LocalLayout::ServerName(int shard, int member) {
  return ShardId(shard) + "-" + std::to_string(member);
}

}  // namespace redkube::runtime
