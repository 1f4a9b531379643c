#include "configserver/proxy_registry.h"

#include <nlohmann/json.hpp>

#include "configserver/cluster_record.h"

namespace redkube::configserver {

using nlohmann::json;

ProxyRegistry::ProxyRegistry(const EtcdClient* etcd, std::chrono::milliseconds expiry,
                             std::chrono::milliseconds refresh)
    : etcd_(etcd), expiry_(expiry), refresh_(refresh) {}

bool ProxyRegistry::ValidId(const std::string& id) {
  if (id.empty() || id.size() > 200) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
}

Status ProxyRegistry::Report(const std::string& cluster, const std::string& id, uint64_t epoch) {
  const std::string key = kPrefix + cluster + "/" + id;
  const int64_t now = WallClockMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = written_.find(key);
    if (it != written_.end() && it->second.epoch == epoch && now - it->second.seen_ms < refresh_.count()) {
      return Status::Ok();
    }
  }
  Status s = etcd_->Put(key, json{{"epoch", epoch}, {"seen_ms", now}}.dump());
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  written_[key] = {id, epoch, now};
  return Status::Ok();
}

Result<std::vector<ProxyReport>> ProxyRegistry::Live(const std::string& cluster) const {
  const std::string prefix = kPrefix + cluster + "/";
  auto kvs = etcd_->GetPrefix(prefix);
  if (!kvs.ok()) return kvs.status();
  const int64_t now = WallClockMs();
  std::vector<ProxyReport> live;
  for (const auto& kv : kvs.value()) {
    json doc = json::parse(kv.value, nullptr, false);
    if (!doc.is_object()) continue;
    ProxyReport r{kv.key.substr(prefix.size()), doc.value("epoch", uint64_t{0}),
                  doc.value("seen_ms", int64_t{0})};
    if (now - r.seen_ms <= expiry_.count()) live.push_back(std::move(r));
  }
  return live;
}

}  // namespace redkube::configserver
