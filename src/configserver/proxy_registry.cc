#include "configserver/proxy_registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "configserver/cluster_record.h"
#include "core/strings.h"
#include "core/topology.h"

namespace redkube::configserver {

using nlohmann::json;

ProxyRegistry::ProxyRegistry(const EtcdClient* etcd, std::chrono::milliseconds expiry,
                             std::chrono::milliseconds refresh)
    : etcd_(etcd), expiry_(expiry), refresh_(refresh) {}

bool ProxyRegistry::ValidId(const std::string& id) {
  if (id.empty() || id.size() > 200) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
}

namespace {

bool SameMasters(const std::map<std::string, int64_t>& a, const std::map<std::string, int64_t>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](const auto& x, const auto& y) { return x.first == y.first; });
}

}  // namespace

std::optional<std::map<std::string, int64_t>> ProxyRegistry::ParseUnreachable(std::string_view text,
                                                                              int64_t now_ms) {
  std::map<std::string, int64_t> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t tilde = item.rfind('~');
    if (tilde == std::string_view::npos || tilde == 0 || out.size() >= 1024) return std::nullopt;
    auto ms = ParseInt64(item.substr(tilde + 1));
    if (!ms || *ms < 0) return std::nullopt;
    auto address = ParseHostPort(item.substr(0, tilde));
    if (!address.ok()) return std::nullopt;
    out[std::string(item.substr(0, tilde))] = now_ms - *ms;
  }
  return out;
}

Status ProxyRegistry::Report(const std::string& cluster, const std::string& id, uint64_t epoch, bool witness,
                             const std::map<std::string, int64_t>& unreachable, const std::string& address) {
  const std::string key = kPrefix + cluster + "/" + id;
  const int64_t now = WallClockMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = written_.find(key);
    // The times of unreachable masters move by a few ms between reports:
    // only the set of masters counts as a change.
    if (it != written_.end() && it->second.epoch == epoch && it->second.witness == witness &&
        SameMasters(it->second.unreachable, unreachable) && it->second.address == address &&
        now - it->second.seen_ms < refresh_.count()) {
      return Status::Ok();
    }
  }
  json doc = {{"epoch", epoch}, {"seen_ms", now}};
  if (witness) {
    doc["witness"] = true;
    doc["unreachable"] = json::object();
    for (const auto& [master, since] : unreachable) doc["unreachable"][master] = since;
  }
  if (!address.empty()) doc["address"] = address;
  Status s = etcd_->Put(key, doc.dump());
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  written_[key] = {id, epoch, now, witness, unreachable, address};
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
    ProxyReport r{kv.key.substr(prefix.size()),
                  doc.value("epoch", uint64_t{0}),
                  doc.value("seen_ms", int64_t{0}),
                  doc.value("witness", false),
                  {},
                  doc.value("address", std::string())};
    if (doc.contains("unreachable") && doc["unreachable"].is_object()) {
      for (const auto& [master, since] : doc["unreachable"].items()) {
        if (since.is_number_integer()) r.unreachable[master] = since.get<int64_t>();
      }
    }
    if (now - r.seen_ms <= expiry_.count()) live.push_back(std::move(r));
  }
  // etcd lists keys in byte order, which is id order under one prefix;
  // sorted here all the same, since callers rely on it.
  std::sort(live.begin(), live.end(), [](const ProxyReport& a, const ProxyReport& b) { return a.id < b.id; });
  return live;
}

}  // namespace redkube::configserver
