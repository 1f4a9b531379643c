// The ConfigServer's HTTP/JSON API (cpp-httplib):
//
//   POST   /v1/clusters                               {"name": "demo", "shards": 3}
//   GET    /v1/clusters                               names
//   GET    /v1/clusters/NAME                          the record, with the leader's health view
//   DELETE /v1/clusters/NAME
//   PUT    /v1/clusters/NAME/shards/ID                {"nodes": ["host:port", ...]}
//   POST   /v1/clusters/NAME/shards/ID/nodes          {"node": "host:port"}
//   DELETE /v1/clusters/NAME/shards/ID/nodes/ADDR
//   POST   /v1/clusters/NAME/shards/ID/switchover     {"to": "host:port"} (optional)
//   GET    /v1/clusters/NAME/topology[?after=E&wait_ms=W]
//          the proxies' document; with `after`, a long-poll answering as soon
//          as the epoch passes E (204 when W passes first)
//          with `proxy=ID&applied=E` the proxy reports the epoch it applied
//          (and `&address=HOST:PORT`, where clients reach it)
//   POST   /v1/clusters/NAME/shards                   {"id": "shard-3"}  an empty shard
//   DELETE /v1/clusters/NAME/shards/ID                one that owns no slots
//   POST   /v1/clusters/NAME/migrations               {"from", "to", "slots", "throttle"}
//   GET    /v1/clusters/NAME/migrations[/MID]         with progress, and the live proxies
//   POST   /v1/clusters/NAME/migrations/MID/{pause,resume,cancel,throttle}
//   POST   /v1/clusters/NAME/rebalance                {"shards": [...], "throttle": {...}}
//   GET    /v1/clusters/NAME/proxies                  the live proxies, by id: their address,
//                                                     epoch, seen_ms (cluster-mode clients)
//   (docs/migration.md has the bodies and answers)
//   GET    /healthz, /metrics                         (no token needed)
//
// Errors are {"error": "..."} with 400 (bad request), 401 (token), 404,
// 409 (conflicts with the current state), 503 (etcd unreachable).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "configserver/cluster_operations.h"
#include "configserver/cluster_store.h"
#include "configserver/leader_lease.h"
#include "configserver/migration_control.h"
#include "configserver/prober.h"
#include "configserver/proxy_registry.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace redkube::configserver {

class ApiServer {
 public:
  ApiServer(ClusterStore* store, ClusterOperations* operations, MigrationControl* migrations,
            ProxyRegistry* proxies, const LeaderLease* lease, const Prober* prober, std::string token);
  ~ApiServer();

  // Binds host:port and serves on a thread of its own.
  Status Start(const std::string& host, int port);
  void Stop();

 private:
  void Routes();
  std::string RenderMetrics() const;
  // Whether the request may proceed (answers 401 if not).
  bool Authorized(const httplib::Request& req, httplib::Response& res) const;

  // One per endpoint of the table above.
  using Handler = void (ApiServer::*)(const httplib::Request&, httplib::Response&);
  void Health(const httplib::Request& req, httplib::Response& res);
  void CreateCluster(const httplib::Request& req, httplib::Response& res);
  void ListClusters(const httplib::Request& req, httplib::Response& res);
  void GetCluster(const httplib::Request& req, httplib::Response& res);
  void DeleteCluster(const httplib::Request& req, httplib::Response& res);
  void RegisterShard(const httplib::Request& req, httplib::Response& res);
  void AddNode(const httplib::Request& req, httplib::Response& res);
  void RemoveNode(const httplib::Request& req, httplib::Response& res);
  void Switchover(const httplib::Request& req, httplib::Response& res);
  void GetTopology(const httplib::Request& req, httplib::Response& res);
  // api_migrations.cc
  void AddShard(const httplib::Request& req, httplib::Response& res);
  void DeleteShard(const httplib::Request& req, httplib::Response& res);
  void StartMigration(const httplib::Request& req, httplib::Response& res);
  void ListMigrations(const httplib::Request& req, httplib::Response& res);
  void GetMigration(const httplib::Request& req, httplib::Response& res);
  void ControlMigration(const httplib::Request& req, httplib::Response& res);
  void Rebalance(const httplib::Request& req, httplib::Response& res);
  void ListProxies(const httplib::Request& req, httplib::Response& res);
  Status RecordProxyReport(const httplib::Request& req, const std::string& cluster);

  ClusterStore* store_;
  ClusterOperations* operations_;
  MigrationControl* migrations_;
  ProxyRegistry* proxies_;
  const LeaderLease* lease_;
  const Prober* prober_;
  std::string token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> watches_{0};
};

}  // namespace redkube::configserver
