// Lets another process drive the server groups of a Platform that lives in
// this one: the `redkube up` supervisor owns (and restarts) the processes,
// and `redkube scale` asks it to start and remove groups through this.
// HTTP on a Unix socket (mode 0600: only the cluster's user), JSON bodies;
// RemotePlatform is the client. Routes (GROUP: "shard-K"):
//
//   GET    /v1/groups                       {"groups": [GROUP, ...]}
//   PUT    /v1/groups/GROUP                 {"size": N, "version": ""}   EnsureServerGroup
//   GET    /v1/groups/GROUP/ready           {"ready": B, "waiting_for": WHO}  MembersReady
//   GET    /v1/groups/GROUP/members         {"members": [{"name", "address", "running", "restarts"}]}
//   DELETE /v1/groups/GROUP                 RemoveServerGroup
//
// 200 with {} (or the body above) on success; 500 with {"error": MESSAGE}
// when the platform says no; 400 for a malformed body.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "runtime/platform.h"

namespace httplib {
class Server;
}

namespace redkube::runtime {

class PlatformControlServer {
 public:
  PlatformControlServer(Platform* platform, std::string socket_path);
  ~PlatformControlServer();
  PlatformControlServer(const PlatformControlServer&) = delete;
  PlatformControlServer& operator=(const PlatformControlServer&) = delete;

  // Listens (replacing a socket file a dead supervisor left) and serves on a
  // thread of its own. Fails if the path is too long for a Unix socket.
  Status Start();
  // Stops serving (requests in flight finish) and removes the socket file.
  void Stop();

 private:
  void Routes();

  Platform* platform_;
  std::string socket_path_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace redkube::runtime
