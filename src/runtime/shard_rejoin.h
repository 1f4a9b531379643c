// Brings a server member that died and was restarted by the platform back
// into its shard the way the design says: before it starts, the server
// start step (server_start.h: DecideServerStart, the same rules as the
// `redkube-server-start` init container on Kubernetes) says how — as a
// replica of the shard's current master, after waiting (bounded) for the
// ConfigServer to fail the shard over if the dead member was its master, so
// a master restarted from its own slightly older AOF never takes writes
// back from its replicas — and it is registered again once it answers.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "runtime/configserver_client.h"
#include "runtime/platform.h"

namespace redkube::runtime {

class ShardRejoin : public ServerRestartObserver {
 public:
  ShardRejoin(Platform* platform, ControlPlane control_plane, std::string cluster,
              std::chrono::milliseconds failover_wait = std::chrono::seconds(8),
              std::chrono::milliseconds register_wait = std::chrono::seconds(30));

  std::optional<HostPort> BeforeRestart(const std::string& group, const Member& member) override;
  void AfterRestart(const std::string& group, const Member& member) override;

  // Makes waits in progress return at once (shutdown).
  void Stop() { stopping_ = true; }

 private:
  Platform* platform_;
  ControlPlane control_plane_;
  std::string cluster_;
  std::chrono::milliseconds failover_wait_;
  std::chrono::milliseconds register_wait_;
  std::atomic<bool> stopping_{false};
};

}  // namespace redkube::runtime
