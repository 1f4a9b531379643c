#include "configserver/api_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>

#include "configserver/api_replies.h"
#include "core/strings.h"

namespace redkube::configserver {
namespace {

using nlohmann::json;

// Long-polls hold a server thread each: room for many proxies per instance.
constexpr int kServerThreads = 128;
constexpr int64_t kMaxWaitMs = 60000;

void ReplyResult(httplib::Response& res, const OperationResult& result) {
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  Reply(res, 200, json::parse(std::get<ClusterRecord>(result).ToJson()));
}

json HealthJson(const NodeHealth& h) {
  json doc = {{"reachable", h.reachable}, {"role", h.role},     {"replicating_from", h.replicating_from},
              {"link_up", h.link_up},     {"offset", h.offset}, {"failing_since_ms", h.failing_since_ms}};
  if (h.role == "slave" && h.contact_ms > 0) doc["master_contact_ms_ago"] = WallClockMs() - h.contact_ms;
  return doc;
}

}  // namespace

ApiServer::ApiServer(ClusterStore* store, ClusterOperations* operations, MigrationControl* migrations,
                     ProxyRegistry* proxies, const LeaderLease* lease, const Prober* prober,
                     std::string token)
    : store_(store),
      operations_(operations),
      migrations_(migrations),
      proxies_(proxies),
      lease_(lease),
      prober_(prober),
      token_(std::move(token)),
      server_(std::make_unique<httplib::Server>()) {}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Start(const std::string& host, int port) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  Routes();
  // httplib's default is SO_REUSEPORT, which would let a second instance
  // share the port silently; SO_REUSEADDR makes that a clear start-up error.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (!server_->bind_to_port(host, port)) {
    return Status::Error("cannot listen on " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void ApiServer::Routes() {
  httplib::Server& s = *server_;
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    requests_.fetch_add(1);
    return Authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                : httplib::Server::HandlerResponse::Handled;
  });
  s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (res.status >= 400) {
      errors_.fetch_add(1);
      if (res.body.empty()) {
        Reply(res, res.status, json{{"error", "no such endpoint: " + req.method + " " + req.path}});
      }
    }
  });
  auto handle = [this](Handler handler) {
    return
        [this, handler](const httplib::Request& req, httplib::Response& res) { (this->*handler)(req, res); };
  };
  const std::string cluster = R"(/v1/clusters/([a-z0-9-]+))";
  const std::string shard = cluster + R"(/shards/([a-z0-9-]+))";
  s.Get("/healthz", handle(&ApiServer::Health));
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(), "text/plain; version=0.0.4");
  });
  s.Post("/v1/clusters", handle(&ApiServer::CreateCluster));
  s.Get("/v1/clusters", handle(&ApiServer::ListClusters));
  s.Get(cluster, handle(&ApiServer::GetCluster));
  s.Delete(cluster, handle(&ApiServer::DeleteCluster));
  s.Put(shard, handle(&ApiServer::RegisterShard));
  s.Post(shard + "/nodes", handle(&ApiServer::AddNode));
  s.Delete(shard + "/nodes/([^/]+)", handle(&ApiServer::RemoveNode));
  s.Post(shard + "/switchover", handle(&ApiServer::Switchover));
  s.Get(cluster + "/topology", handle(&ApiServer::GetTopology));
  s.Post(cluster + "/shards", handle(&ApiServer::AddShard));
  s.Delete(shard, handle(&ApiServer::DeleteShard));
  s.Post(cluster + "/migrations", handle(&ApiServer::StartMigration));
  s.Get(cluster + "/migrations", handle(&ApiServer::ListMigrations));
  s.Get(cluster + R"(/migrations/([a-z0-9-]+))", handle(&ApiServer::GetMigration));
  s.Post(cluster + R"(/migrations/([a-z0-9-]+)/(pause|resume|cancel|throttle))",
         handle(&ApiServer::ControlMigration));
  s.Post(cluster + "/rebalance", handle(&ApiServer::Rebalance));
  s.Get(cluster + "/proxies", handle(&ApiServer::ListProxies));
  s.Post(cluster + "/config", handle(&ApiServer::SetServerConfig));
  s.Get(cluster + "/config", handle(&ApiServer::GetServerConfig));
}

bool ApiServer::Authorized(const httplib::Request& req, httplib::Response& res) const {
  if (token_.empty() || req.path == "/healthz" || req.path == "/metrics") return true;
  if (req.get_header_value("Authorization") == "Bearer " + token_) return true;
  Reply(res, 401, json{{"error", "missing or wrong bearer token"}});
  return false;
}

void ApiServer::Health(const httplib::Request&, httplib::Response& res) {
  bool fresh = store_->CacheFresh();
  Reply(res, fresh ? 200 : 503,
        json{{"etcd", fresh ? "reachable" : "unreachable"}, {"leader", lease_->IsLeader()}});
}

void ApiServer::CreateCluster(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res);
  if (!body) return;
  std::string name = body->value("name", "");
  if (!ValidName(name)) {
    return Reply(res, 400, json{{"error", "\"name\" must be 1-63 characters of a-z, 0-9 and -"}});
  }
  if (!body->contains("shards") || !(*body)["shards"].is_number_integer()) {
    return Reply(res, 400, json{{"error", "\"shards\" must be an integer"}});
  }
  int64_t shards = (*body)["shards"].get<int64_t>();
  if (shards < 1 || shards > 1024) {
    return Reply(res, 400, json{{"error", "\"shards\" must be between 1 and 1024"}});
  }
  ClusterRecord record = NewCluster(name, static_cast<int>(shards));
  if (auto e = store_->Create(record)) return ReplyError(res, *e);
  spdlog::info("cluster {} created with {} shards", name, shards);
  Reply(res, 201, json::parse(record.ToJson()));
}

void ApiServer::ListClusters(const httplib::Request&, httplib::Response& res) {
  json names = json::array();
  for (const auto& r : store_->CachedAll()) names.push_back(r.name);
  Reply(res, 200, json{{"clusters", names}});
}

void ApiServer::GetCluster(const httplib::Request& req, httplib::Response& res) {
  auto record = store_->Cached(req.matches[1]);
  if (!record) return Reply(res, 404, json{{"error", "no cluster named " + std::string(req.matches[1])}});
  json doc = json::parse(record->ToJson());
  doc["complete"] = record->Complete();
  doc["leader"] = lease_->LeaderIdentity();
  auto health = prober_->HealthSnapshot();
  if (!health.empty()) {
    json h = json::object();
    for (const auto& s : record->shards) {
      for (const auto& n : s.nodes) {
        if (health.count(n)) h[n] = HealthJson(health[n]);
      }
    }
    doc["health"] = h;
  }
  // Why a needed failover is not happening, per shard (stuck, or a
  // control-plane partition: live proxies reach a master we cannot).
  json alerts = json::object();
  const std::string prefix = record->name + "/";
  for (const auto& [key, reason] : prober_->AlertsSnapshot()) {
    if (key.starts_with(prefix)) alerts[key.substr(prefix.size())] = reason;
  }
  doc["alerts"] = alerts;
  Reply(res, 200, doc);
}

void ApiServer::DeleteCluster(const httplib::Request& req, httplib::Response& res) {
  if (auto e = store_->Delete(req.matches[1])) return ReplyError(res, *e);
  spdlog::info("cluster {} deleted", std::string(req.matches[1]));
  Reply(res, 200, json{{"deleted", std::string(req.matches[1])}});
}

void ApiServer::RegisterShard(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res);
  if (!body) return;
  std::vector<std::string> nodes;
  if (!body->contains("nodes") || !(*body)["nodes"].is_array()) {
    return Reply(res, 400, json{{"error", "\"nodes\" must be an array of \"host:port\""}});
  }
  for (const auto& n : (*body)["nodes"]) {
    if (!n.is_string()) return Reply(res, 400, json{{"error", "\"nodes\" must hold strings"}});
    nodes.push_back(n.get<std::string>());
  }
  ReplyResult(res, operations_->RegisterShard(req.matches[1], req.matches[2], nodes));
}

void ApiServer::AddNode(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res);
  if (!body) return;
  if (!body->contains("node") || !(*body)["node"].is_string()) {
    return Reply(res, 400, json{{"error", "\"node\" must be \"host:port\""}});
  }
  ReplyResult(res, operations_->AddNode(req.matches[1], req.matches[2], (*body)["node"].get<std::string>()));
}

void ApiServer::RemoveNode(const httplib::Request& req, httplib::Response& res) {
  ReplyResult(res, operations_->RemoveNode(req.matches[1], req.matches[2], req.matches[3]));
}

void ApiServer::Switchover(const httplib::Request& req, httplib::Response& res) {
  std::string to;
  if (!req.body.empty()) {
    auto body = Body(req, res);
    if (!body) return;
    if (body->contains("to") && !(*body)["to"].is_string()) {
      return Reply(res, 400, json{{"error", "\"to\" must be \"host:port\""}});
    }
    to = body->value("to", "");
  }
  ReplyResult(res, operations_->Switchover(req.matches[1], req.matches[2], to));
}

void ApiServer::GetTopology(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  auto record = store_->Cached(name);
  if (!record) return Reply(res, 404, json{{"error", "no cluster named " + name}});
  if (Status s = RecordProxyReport(req, name); !s.ok()) return Reply(res, 503, json{{"error", s.message()}});
  if (!req.has_param("after")) {
    if (!record->Complete()) {
      return Reply(
          res, 503,
          json{{"error", "cluster " + name + " is not complete: a shard has no registered master yet"}});
    }
    res.set_content(PublishedTopology(*record), "application/json");
    return;
  }
  // Whole integers, as Redis reads them: "12abc" or "-1" is refused, not
  // read as 12 or as a huge epoch.
  std::optional<int64_t> after = ParseInt64(req.get_param_value("after"));
  std::optional<int64_t> wait_ms = 0;
  if (req.has_param("wait_ms")) wait_ms = ParseInt64(req.get_param_value("wait_ms"));
  if (!after || *after < 0 || !wait_ms) {
    return Reply(res, 400, json{{"error", "\"after\" and \"wait_ms\" must be integers"}});
  }
  watches_.fetch_add(1);
  auto newer = store_->WaitForEpoch(name, static_cast<uint64_t>(*after),
                                    std::chrono::milliseconds(std::clamp<int64_t>(*wait_ms, 0, kMaxWaitMs)));
  if (!newer) {
    res.status = 204;
    return;
  }
  res.set_content(PublishedTopology(*newer), "application/json");
}

std::string ApiServer::RenderMetrics() const {
  const ProberStats& p = prober_->stats();
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("redkube_configserver_leader", "gauge", "1 while this instance leads", lease_->IsLeader());
  metric("redkube_configserver_leader_terms_total", "counter", "times this instance became leader",
         static_cast<double>(lease_->terms_won()));
  metric("redkube_configserver_etcd_reachable", "gauge", "1 while the last etcd refresh succeeded",
         store_->CacheFresh());
  metric("redkube_configserver_http_requests_total", "counter", "API requests", requests_.load());
  metric("redkube_configserver_http_errors_total", "counter", "API answers with status >= 400",
         errors_.load());
  metric("redkube_configserver_topology_watches_total", "counter", "topology long-polls served",
         watches_.load());
  metric("redkube_configserver_probe_rounds_total", "counter", "probe rounds (leader only)", p.rounds.load());
  metric("redkube_configserver_probes_total", "counter", "node probes", p.probes.load());
  metric("redkube_configserver_probe_failures_total", "counter", "failed node probes",
         p.probe_failures.load());
  metric("redkube_configserver_fences_total", "counter", "shards fenced as the first step of a failover",
         p.fences.load());
  metric("redkube_configserver_partitions_total", "counter",
         "failovers not made because live proxies still reach the master (control-plane partitions)",
         p.partitions.load());
  metric("redkube_configserver_failovers_total", "counter",
         "masters changed by the leader (failovers, switchovers found done but unrecorded)",
         p.failovers.load());
  metric("redkube_configserver_repoints_total", "counter", "REPLICAOF commands sent to re-point nodes",
         p.repoints.load());
  out +=
      "# HELP redkube_configserver_cluster_epoch topology epoch per cluster\n"
      "# TYPE redkube_configserver_cluster_epoch gauge\n";
  const auto clusters = store_->CachedAll();
  for (const auto& r : clusters) {
    out += fmt::format("redkube_configserver_cluster_epoch{{cluster=\"{}\"}} {}\n", r.name, r.epoch);
  }
  // Migrations the record still lists (unfinished, and the last finished).
  out +=
      "# HELP redkube_configserver_migrations migrations listed per cluster and state\n"
      "# TYPE redkube_configserver_migrations gauge\n"
      "# HELP redkube_configserver_migration_keys_moved keys moved per listed migration\n"
      "# TYPE redkube_configserver_migration_keys_moved gauge\n";
  for (const auto& r : clusters) {
    std::map<std::string, int> by_state;
    for (const auto& m : r.migrations) {
      ++by_state[MigrationStateName(m.state)];
      out += fmt::format("redkube_configserver_migration_keys_moved{{cluster=\"{}\",id=\"{}\"}} {}\n", r.name,
                         m.id, m.keys_moved);
    }
    for (const auto& [state, n] : by_state) {
      out += fmt::format("redkube_configserver_migrations{{cluster=\"{}\",state=\"{}\"}} {}\n", r.name, state,
                         n);
    }
  }
  return out;
}

}  // namespace redkube::configserver
