#include "proxy/config_relay.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/strings.h"

namespace redkube::proxy {
namespace {

// The ConfigServer sets every server one after the other, each bounded by
// its own timeout, and puts them back on a refusal: give it room.
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kConnectTimeout = std::chrono::seconds(2);

}  // namespace

ConfigRelay::ConfigRelay(std::vector<std::string> urls, std::string cluster, std::string token)
    : urls_(std::move(urls)), cluster_(std::move(cluster)), token_(std::move(token)) {}

ConfigRelay::~ConfigRelay() { Stop(); }

void ConfigRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ConfigRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConfigRelay::Submit(Settings settings, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.emplace_back(std::move(settings), std::move(done));
  }
  cv_.notify_one();
}

void ConfigRelay::Run() {
  while (true) {
    std::pair<Settings, Done> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::string reply = Send(job.first);
    // Stop() came while the request was out: the workers the callback posts
    // to may be gone (ProxyServer::Shutdown frees them), so it is dropped.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    job.second(std::move(reply));
  }
}

std::string ConfigRelay::Send(const Settings& settings) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [param, value] : settings) body[param] = value;
  const std::string text = body.dump();
  const std::string path = "/v1/clusters/" + cluster_ + "/config";
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  std::string last = "no ConfigServer URL";
  for (const std::string& url : urls_) {
    httplib::Client client(url);
    client.set_connection_timeout(kConnectTimeout);
    client.set_read_timeout(kReadTimeout);
    auto res = client.Post(path, headers, text, "application/json");
    if (!res) {
      last = url + ": " + httplib::to_string(res.error());
      // Not reached (no connection): nothing was applied by it; the next
      // one may answer. Any other failure (a read timeout) means it may be
      // applying them still: asking another would run two at once.
      if (res.error() == httplib::Error::Connection) continue;
      spdlog::warn("CONFIG SET: {}", last);
      return "-ERR CONFIG SET outcome unknown: the ConfigServer did not answer in time (" + OneLine(last) +
             "); CONFIG GET tells what the servers have\r\n";
    }
    return ReplyFor(res->status, res->body);
  }
  spdlog::warn("CONFIG SET: no ConfigServer answered: {}", last);
  return "-ERR CONFIG SET not applied: no ConfigServer answered (" + OneLine(last) + ")\r\n";
}

std::string ConfigRelay::ReplyFor(int status, const std::string& body) {
  if (status == 200) return "+OK\r\n";
  std::string error;
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
    error = doc["error"].get<std::string>();
  } else {
    error = "the ConfigServer answered HTTP " + std::to_string(status);
  }
  // The ConfigServer words its errors for the client ("CONFIG SET refused
  // by HOST:PORT (shard ID): ..."); one prefix, not two.
  if (error.starts_with("ERR ")) error.erase(0, 4);
  return "-ERR " + OneLine(error) + "\r\n";
}

}  // namespace redkube::proxy
