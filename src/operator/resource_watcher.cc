#include "operator/resource_watcher.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace redkube::op {

ResourceWatcher::ResourceWatcher(kube::KubeClient* client, const kube::Resource& resource, std::string ns,
                                 std::string label_selector, KeyOf key_of, WorkQueue* queue)
    : client_(client),
      resource_(resource),
      ns_(std::move(ns)),
      label_selector_(std::move(label_selector)),
      key_of_(std::move(key_of)),
      queue_(queue) {}

ResourceWatcher::~ResourceWatcher() { Stop(); }

void ResourceWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ResourceWatcher::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> ResourceWatcher::OwnKey(const nlohmann::json& object) {
  const auto& meta = object.value("metadata", nlohmann::json::object());
  if (!meta.contains("name")) return std::nullopt;
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

std::optional<std::string> ResourceWatcher::ClusterLabelKey(const nlohmann::json& object) {
  const auto& meta = object.value("metadata", nlohmann::json::object());
  const auto& labels = meta.value("labels", nlohmann::json::object());
  auto it = labels.find("redkube.io/cluster");
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  return meta.value("namespace", "") + "/" + it->get<std::string>();
}

void ResourceWatcher::Enqueue(const nlohmann::json& object) {
  if (auto key = key_of_(object)) queue_->Add(*key);
}

void ResourceWatcher::Run() {
  auto backoff = std::chrono::milliseconds(500);
  while (!stopping_) {
    auto listed = client_->List(resource_, ns_, label_selector_);
    if (!listed.ok()) {
      spdlog::warn("list {}: {}", resource_.plural, listed.error());
    } else {
      for (const auto& item : listed->items) Enqueue(item);
      std::string version = listed->resource_version;
      // Watch until the server ends it (timeoutSeconds), then go on from the
      // last version seen: a re-list is needed only on 410 or a failure.
      while (!stopping_) {
        Status watched =
            client_->Watch(resource_, ns_, version, label_selector_, [&](const kube::WatchEvent& e) {
              if (stopping_) return false;
              std::string v = e.ResourceVersion();
              if (!v.empty()) version = v;
              if (e.type != kube::WatchEventType::kBookmark) Enqueue(e.object);
              return true;
            });
        if (!watched.ok()) {
          if (watched.code() != 410) spdlog::warn("watch {}: {}", resource_.plural, watched.message());
          break;
        }
      }
      if (stopping_) break;
      backoff = std::chrono::milliseconds(500);
    }
    // A short pause before listing again, in small steps so Stop() is quick.
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stopping_;
         waited += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(8000));
  }
}

}  // namespace redkube::op
