// Which replicas may serve reads (--read-from replica|prefer-replica): every
// interval, each shard's master is asked for INFO replication, and a replica
// is readable while the master sees it online, acknowledging within the lag
// bound, and holding the data the master had at most that long ago (its
// acknowledged offset against the master's offsets of the last polls). A
// replica the master does not vouch for (down, lagging, or the master itself
// unreachable, so its lag is unknown) is skipped. The result is published
// to the ProxyServer as an immutable snapshot, as topologies are; workers
// pick it up between loop iterations.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/periodic_thread.h"
#include "core/redis_client.h"
#include "core/topology.h"

namespace redkube::proxy {

class ProxyServer;

// Readable replicas, as "master|replica" address pairs ("host:port" as the
// topology names them), so that a failover (a new master) invalidates them.
struct ReadableReplicas {
  std::set<std::string, std::less<>> pairs;

  static std::string Key(const HostPort& master, const HostPort& replica) {
    return master.ToString() + "|" + replica.ToString();
  }
  bool Contains(const HostPort& master, const HostPort& replica) const {
    return pairs.count(Key(master, replica)) > 0;
  }
};

// A master's replication offset at each recent poll, to tell how old the
// data of a replica that acknowledged a given offset is.
class OffsetHistory {
 public:
  explicit OffsetHistory(int64_t window_ms) : window_ms_(window_ms) {}
  void Record(int64_t now_ms, int64_t master_offset);
  // How long ago the master last had no more than `replica_offset` (0 if
  // the replica has everything); the window's length or more if longer ago
  // than the samples go.
  int64_t DataLagMs(int64_t replica_offset, int64_t now_ms) const;

 private:
  int64_t window_ms_;
  std::deque<std::pair<int64_t, int64_t>> samples_;  // (time ms, offset), oldest first
};

// The replicas of `replica_ips` (IPv4 literal and port of each replica, in
// the topology's order) that a master's INFO replication shows online, with
// `lag` (seconds since its last acknowledgement) and data lag (`history`,
// which must include this INFO's master_repl_offset) at most max_lag_s.
// Returns their indexes.
std::vector<size_t> ReplicasInSync(std::string_view master_info,
                                   const std::vector<std::pair<std::string, uint16_t>>& replica_ips,
                                   int max_lag_s, const OffsetHistory& history, int64_t now_ms);

class ReplicaMonitor {
 public:
  ReplicaMonitor(ProxyServer* server, std::string password, int interval_ms, int max_lag_s);
  ~ReplicaMonitor();

  void Start();
  void Stop();

 private:
  void CheckOnce();
  // INFO replication of `master`, or an empty string if it did not answer.
  std::string MasterInfo(const HostPort& master);

  ProxyServer* server_;
  std::string password_;
  int max_lag_s_;
  // Used by the checker's thread only.
  std::map<std::string, std::unique_ptr<RedisClient>> clients_;  // by master address
  std::map<std::string, OffsetHistory> histories_;               // by master address
  std::set<std::string, std::less<>> readable_;                  // last published, for logging changes
  // Last, so that it stops before the members a check uses go.
  PeriodicThread checker_;
};

}  // namespace redkube::proxy
