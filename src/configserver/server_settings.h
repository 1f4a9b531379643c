// CONFIG SET through redkube (POST /v1/clusters/NAME/config, from the
// proxies' CONFIG SET): the settings applied to every registered server of a
// cluster, masters and replicas, all or none, then kept in the cluster's
// record (ClusterRecord::server_settings) for the prober to give every
// server it probes, the ones started later included (Prober::KeepSettings).
//
// All or none: each server's current values of the parameters are read
// (CONFIG GET) before it is set; when one server refuses (an error reply),
// the servers already set are put back to their values, and the refusal
// names the server. A server that does not answer is passed over: it is
// down (a restart, a failover under way), and gets the stored settings from
// the prober when it answers again. Any ConfigServer instance serves it
// (the record is written with compare-and-swap); one instance applies one
// request at a time. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <variant>

#include "configserver/cluster_store.h"
#include "configserver/replication_control.h"
#include "core/redis_client.h"

namespace redkube::configserver {

using ServerSettingsMap = std::map<std::string, std::string>;

// Checks and lowers the names of a request's settings: 400 for a name that
// is no parameter name or one the platform keeps (core/config_parameters.h).
std::variant<ServerSettingsMap, StoreError> ValidServerSettings(const ServerSettingsMap& requested);

// CONFIG SET p v [p v ...] on the server `client` is connected to. An error
// reply is an error Status carrying redis-server's text.
Status SetServerSettings(RedisClient* client, const ServerSettingsMap& settings);

class ServerSettingsControl {
 public:
  ServerSettingsControl(ClusterStore* store, const ReplicationControl* control);

  // Applies `settings` (valid: ValidServerSettings) to every server of
  // `cluster` and stores them; the record written, or why not: 404 (no such
  // cluster), 400 (a server refused: "CONFIG SET refused by HOST:PORT (shard
  // ID): <its error>", every server as it was), 503 (no server answered, or
  // etcd: every server put back).
  std::variant<ClusterRecord, StoreError> Apply(const std::string& cluster,
                                                const ServerSettingsMap& settings);

 private:
  ClusterStore* store_;
  const ReplicationControl* control_;
  std::mutex mu_;  // one request at a time
};

}  // namespace redkube::configserver
