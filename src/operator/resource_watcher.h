// Keeps one list + watch running on a kind and turns every change into
// RedisCluster keys on the work queue: the informer half of a controller,
// without a cache (the reconciler reads what it needs from the API server
// each time, which is cheap at this scale and never stale).
//
// The loop: List (the keys of every object are queued: a resync), then Watch
// from the list's resourceVersion with bookmarks; a 410 Gone (the version was
// compacted) or any other failure re-lists after a short backoff. Objects map
// to keys through `key_of`: a RedisCluster is its own key, an owned object
// names its cluster in the `redkube.io/cluster` label.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "operator/kube/kube_client.h"
#include "operator/work_queue.h"

namespace redkube::op {

class ResourceWatcher {
 public:
  using KeyOf = std::function<std::optional<std::string>(const nlohmann::json& object)>;

  // `ns` empty: every namespace. `client` and `queue` outlive the watcher.
  ResourceWatcher(kube::KubeClient* client, const kube::Resource& resource, std::string ns,
                  std::string label_selector, KeyOf key_of, WorkQueue* queue);
  ~ResourceWatcher();

  void Start();
  // Makes the loop end at its next step (before the client's StopWatches()).
  void RequestStop() { stopping_ = true; }
  // Returns once the thread has ended (the client's StopWatches() ends a
  // watch in flight; call it first).
  void Stop();

  // "namespace/name" of the object itself.
  static std::optional<std::string> OwnKey(const nlohmann::json& object);
  // "namespace/<redkube.io/cluster label>", nothing without the label.
  static std::optional<std::string> ClusterLabelKey(const nlohmann::json& object);

 private:
  void Run();
  void Enqueue(const nlohmann::json& object);

  kube::KubeClient* client_;
  const kube::Resource& resource_;
  std::string ns_;
  std::string label_selector_;
  KeyOf key_of_;
  WorkQueue* queue_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace redkube::op
