#include "proxy/proxy_list_watcher.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "proxy/proxy_list.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {

ProxyListWatcher::ProxyListWatcher(std::vector<std::string> urls, std::string cluster, std::string token,
                                   ProxyServer* server)
    : urls_(std::move(urls)),
      cluster_(std::move(cluster)),
      token_(std::move(token)),
      server_(server),
      poller_("proxy-list", kInterval, [this] { FetchOnce(); }) {}

ProxyListWatcher::~ProxyListWatcher() { Stop(); }

Status ProxyListWatcher::Fetch(const std::string& url) {
  httplib::Client client(url);
  client.set_connection_timeout(std::chrono::seconds(1));
  client.set_read_timeout(std::chrono::seconds(2));
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  auto res = client.Get("/v1/clusters/" + cluster_ + "/proxies", headers);
  if (!res) return Status::Error(url + ": " + httplib::to_string(res.error()));
  if (res->status != 200)
    return Status::Error(url + ": HTTP " + std::to_string(res->status) + ": " + res->body);
  auto list = ProxyList::FromJson(res->body);
  if (!list.ok()) return Status::Error(url + ": " + list.error());
  server_->SetProxyList(list.value());
  return Status::Ok();
}

void ProxyListWatcher::FetchOnce() {
  Status last = Status::Error("no ConfigServer URL");
  for (size_t i = 0; i < urls_.size() && !poller_.stopping(); ++i) {
    const size_t at = (current_ + i) % urls_.size();
    last = Fetch(urls_[at]);
    if (last.ok()) {
      current_ = at;
      if (warned_) spdlog::info("the list of live proxies is fresh again");
      warned_ = false;
      return;
    }
  }
  if (!warned_ && !poller_.stopping()) {
    spdlog::warn("cannot fetch the list of live proxies, keeping the last one: {}", last.message());
    warned_ = true;
  }
}

}  // namespace redkube::proxy
