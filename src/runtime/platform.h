// The platform interface the workflows (create, and later scale and upgrade)
// are written against. A platform runs the pieces of a cluster and knows
// nothing of Redis roles or slots: it starts groups of servers, proxies and
// the control plane, says where they listen and whether they answer. The
// local runtime (processes on 127.0.0.1) is the first implementation; the
// Kubernetes operator (StatefulSets, Deployments) is the second.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube::runtime {

// One running (or expected) copy of a server group or of the proxy fleet.
struct Member {
  std::string name;  // stable across restarts: "shard-0-1", "proxy-0"
  HostPort address;
  bool running = false;  // the platform has it up (not yet necessarily answering)
  int restarts = 0;      // times the platform restarted it after it died
};

// Whether a group's members (or the proxies) serve yet, asked without
// waiting; a workflow polls it (WaitMembersReady below, or a reconcile
// requeued).
struct Readiness {
  bool ready = false;
  std::string waiting_for =
      {};  // when not ready: who, and why ("shard-0-1 (127.0.0.1:7101): connection refused")
};

// Where the control plane answers.
struct ControlPlane {
  std::vector<std::string> configserver_urls;  // "http://host:port", any of them serves
  std::string token;                           // bearer token of the ConfigServer API
  bool operator==(const ControlPlane&) const = default;
};

// Told by the platform when it brings back a server member that died, so
// the workflow can make it rejoin its shard the way the design says (as a
// replica of the current master, then registered again).
class ServerRestartObserver {
 public:
  virtual ~ServerRestartObserver() = default;
  // Before the member starts again: the master it must start replicating
  // from, or nothing to start it as it was. May block (bounded) while the
  // control plane fails the shard over.
  virtual std::optional<HostPort> BeforeRestart(const std::string& group, const Member& member) = 0;
  // After the member answers again.
  virtual void AfterRestart(const std::string& group, const Member& member) = 0;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // Who hears about server members the platform restarted (may be null).
  virtual void SetServerRestartObserver(ServerRestartObserver* observer) = 0;

  // Starts etcd and the ConfigServers (or keeps those that run).
  virtual Result<ControlPlane> EnsureControlPlane() = 0;

  // Starts server group `group` (one shard) with `size` members running
  // `version` (empty: the platform's default), or keeps what runs. Members
  // start as plain masters with their own persistent data and the cluster
  // password; the ConfigServer sets up replication once they are registered.
  virtual Status EnsureServerGroup(const std::string& group, int size, const std::string& version) = 0;
  // Whether every member of `group` serves now (the local runtime: answers
  // PING with the password; Kubernetes: every pod Ready). Never blocks for
  // long (one probe per member). An error: the group does not exist.
  virtual Result<Readiness> MembersReady(const std::string& group) = 0;
  virtual Result<std::vector<Member>> ListMembers(const std::string& group) = 0;
  // Stops member `index` of `group` and starts it again with the same data
  // and address (an upgrade step; the caller takes it out of the topology
  // first).
  virtual Status ReplaceMember(const std::string& group, int index) = 0;
  // Stops every member of `group` and deletes its data; one that does not
  // exist is fine.
  virtual Status RemoveServerGroup(const std::string& group) = 0;
  // The server groups that exist (ensured and not removed), so a scale
  // interrupted between deleting a shard and removing its servers finds
  // them.
  virtual Result<std::vector<std::string>> ListServerGroups() = 0;

  // Runs `count` proxies that follow `control_plane` for this platform's
  // cluster.
  virtual Status EnsureProxies(int count, const ControlPlane& control_plane) = 0;
  // Whether every proxy of the fleet serves now; as MembersReady.
  virtual Result<Readiness> ProxiesReady() = 0;
  virtual std::vector<Member> ListProxies() = 0;
};

// Polls MembersReady (ProxiesReady) every `poll` until ready; fails at
// `timeout` saying what it still waited for, or at once on an error.
Status WaitMembersReady(Platform* platform, const std::string& group, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds poll = std::chrono::milliseconds(100));
Status WaitProxiesReady(Platform* platform, std::chrono::milliseconds timeout,
                        std::chrono::milliseconds poll = std::chrono::milliseconds(100));

}  // namespace redkube::runtime
