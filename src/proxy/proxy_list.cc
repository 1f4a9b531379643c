#include "proxy/proxy_list.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "proxy/script_cache.h"

namespace redkube::proxy {

using nlohmann::json;

ProxyList::ProxyList(std::vector<ListedProxy> proxies) : proxies_(std::move(proxies)) {
  std::sort(proxies_.begin(), proxies_.end(),
            [](const ListedProxy& a, const ListedProxy& b) { return a.id < b.id; });
}

Result<std::shared_ptr<const ProxyList>> ProxyList::FromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("proxies") || !doc["proxies"].is_array()) {
    return Status::Error("the proxy list must be {\"proxies\": [...]}");
  }
  std::vector<ListedProxy> proxies;
  for (const json& entry : doc["proxies"]) {
    if (!entry.is_object()) continue;
    const json& id = entry.contains("id") ? entry["id"] : json();
    const json& address = entry.contains("address") ? entry["address"] : json();
    if (!id.is_string() || id.get<std::string>().empty() || !address.is_string()) continue;
    auto parsed = ParseHostPort(address.get<std::string>());
    if (!parsed.ok()) continue;
    ListedProxy p;
    p.id = id.get<std::string>();
    p.node_id = ClusterNodeId(p.id);
    p.address = parsed.value();
    if (entry.contains("epoch") && entry["epoch"].is_number_unsigned())
      p.epoch = entry["epoch"].get<uint64_t>();
    if (entry.contains("seen_ms") && entry["seen_ms"].is_number_integer()) {
      p.seen_ms = entry["seen_ms"].get<int64_t>();
    }
    proxies.push_back(std::move(p));
  }
  return std::make_shared<const ProxyList>(std::move(proxies));
}

std::string ClusterNodeId(std::string_view proxy_id) { return ScriptCache::Sha1Hex(proxy_id); }

}  // namespace redkube::proxy
