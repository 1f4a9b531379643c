// ApiServer's routes for scaling: shards added and deleted, migrations
// started, listed and controlled, rebalancing, and the proxies' epoch
// reports (docs/migration.md has the bodies).
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "configserver/api_replies.h"
#include "configserver/api_server.h"
#include "core/strings.h"
#include "core/topology.h"

namespace redkube::configserver {
namespace {

using nlohmann::json;

// {"keys_per_s": N, "bytes_per_s": N}, both optional non-negative integers.
std::optional<Throttle> ReadThrottle(const json& j, httplib::Response& res) {
  Throttle t;
  if (j.is_null()) return t;
  if (!j.is_object()) {
    Reply(res, 400, json{{"error", "\"throttle\" must be an object"}});
    return std::nullopt;
  }
  for (auto [field, out] : {std::pair{"keys_per_s", &t.keys_per_s}, {"bytes_per_s", &t.bytes_per_s}}) {
    if (!j.contains(field)) continue;
    if (!j[field].is_number_integer() || j[field].get<int64_t>() < 0) {
      Reply(res, 400,
            json{{"error", std::string("\"") + field + "\" must be an integer >= 0 (0: unlimited)"}});
      return std::nullopt;
    }
    *out = j[field].get<int64_t>();
  }
  return t;
}

std::optional<std::vector<SlotRange>> ReadSlots(const json& j, httplib::Response& res) {
  std::vector<SlotRange> out;
  auto bad = [&] {
    Reply(res, 400,
          json{{"error", "\"slots\" must be [[first, last], ...] with 0 <= first <= last <= 16383"}});
    return std::nullopt;
  };
  if (!j.is_array() || j.empty()) return bad();
  for (const auto& r : j) {
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer())
      return bad();
    int64_t first = r[0].get<int64_t>(), last = r[1].get<int64_t>();
    if (first < 0 || last < first || last >= kSlotCount) return bad();
    out.push_back({static_cast<int>(first), static_cast<int>(last)});
  }
  return out;
}

json MigrationsJson(const std::vector<MigrationRecord>& migrations) {
  json out = json::array();
  for (const auto& m : migrations) out.push_back(MigrationStatusJson(m));
  return out;
}

json ProxiesJson(const std::vector<ProxyReport>& proxies) {
  json out = json::array();
  int64_t now = WallClockMs();
  for (const auto& p : proxies) {
    json entry = {{"id", p.id},           {"address", p.address},           {"epoch", p.epoch},
                  {"seen_ms", p.seen_ms}, {"seen_ms_ago", now - p.seen_ms}, {"witness", p.witness}};
    if (p.witness) {
      entry["unreachable"] = json::object();
      for (const auto& [master, since] : p.unreachable)
        entry["unreachable"][master] = {{"ms_ago", now - since}};
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Status ApiServer::RecordProxyReport(const httplib::Request& req, const std::string& cluster) {
  if (!req.has_param("proxy")) return Status::Ok();
  std::string id = req.get_param_value("proxy");
  auto applied = ParseInt64(req.get_param_value("applied"));
  if (!ProxyRegistry::ValidId(id) || !applied || *applied < 0) return Status::Ok();
  // A proxy counts its lease from its last successful poll, and the leader
  // stops waiting for it `expiry` after the report this instance wrote: a
  // poll whose report cannot be written must fail (ProxyRegistry), and so
  // must one answered from a cache that has lost etcd (its topology may be
  // older than a failover another instance recorded).
  if (!store_->CacheFresh()) return Status::Error("this ConfigServer has lost etcd");
  bool witness = req.has_param("unreachable");
  std::map<std::string, int64_t> unreachable;
  if (witness) {
    auto parsed = ProxyRegistry::ParseUnreachable(req.get_param_value("unreachable"), WallClockMs());
    if (!parsed) return Status::Error("\"unreachable\" must be ADDR~MS,... (host:port and milliseconds)");
    unreachable = std::move(*parsed);
  }
  // The address clients reach the proxy at (cluster-mode clients are told
  // of it): a malformed one is left out rather than failing the poll, whose
  // success keeps the proxy's writes open.
  std::string address = req.get_param_value("address");
  if (!address.empty() && (address.size() > 300 || !ParseHostPort(address).ok())) {
    spdlog::warn("proxy {} announces \"{}\", not host:port: left out", id, address.substr(0, 300));
    address.clear();
  }
  Status s = proxies_->Report(cluster, id, static_cast<uint64_t>(*applied), witness, unreachable, address);
  if (!s.ok()) {
    spdlog::warn("cannot record proxy {}'s report: {}", id, s.message());
    return Status::Error("cannot record the proxy's report: " + s.message());
  }
  return Status::Ok();
}

void ApiServer::AddShard(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res, /*empty_is_object=*/true);
  if (!body) return;
  if (!body->contains("id") || !(*body)["id"].is_string()) {
    return Reply(res, 400, json{{"error", "\"id\" must be the new shard's id"}});
  }
  auto result = migrations_->AddShard(req.matches[1], (*body)["id"].get<std::string>());
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  Reply(res, 201, json::parse(std::get<ClusterRecord>(result).ToJson()));
}

void ApiServer::DeleteShard(const httplib::Request& req, httplib::Response& res) {
  auto result = migrations_->DeleteShard(req.matches[1], req.matches[2]);
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  spdlog::info("cluster {}: shard {} deleted", std::string(req.matches[1]), std::string(req.matches[2]));
  Reply(res, 200, json::parse(std::get<ClusterRecord>(result).ToJson()));
}

void ApiServer::StartMigration(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res, /*empty_is_object=*/true);
  if (!body) return;
  if (!body->contains("from") || !(*body)["from"].is_string() || !body->contains("to") ||
      !(*body)["to"].is_string()) {
    return Reply(res, 400, json{{"error", "\"from\" and \"to\" must be shard ids"}});
  }
  auto slots = ReadSlots(body->value("slots", json()), res);
  if (!slots) return;
  auto throttle = ReadThrottle(body->value("throttle", json()), res);
  if (!throttle) return;
  auto result = migrations_->Start(req.matches[1], (*body)["from"].get<std::string>(),
                                   (*body)["to"].get<std::string>(), *slots, *throttle);
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  Reply(res, 201, MigrationStatusJson(std::get<MigrationRecord>(result)));
}

void ApiServer::ListMigrations(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1];
  auto record = store_->Cached(name);
  if (!record) return Reply(res, 404, json{{"error", "no cluster named " + name}});
  json doc = {{"epoch", record->epoch}, {"migrations", MigrationsJson(record->migrations)}};
  auto proxies = proxies_->Live(name);
  doc["proxies"] = proxies.ok() ? ProxiesJson(proxies.value()) : json::array();
  Reply(res, 200, doc);
}

void ApiServer::GetMigration(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1], id = req.matches[2];
  auto record = store_->Cached(name);
  if (!record) return Reply(res, 404, json{{"error", "no cluster named " + name}});
  const MigrationRecord* m = record->FindMigration(id);
  if (m == nullptr) return Reply(res, 404, json{{"error", "no migration " + id + " in cluster " + name}});
  Reply(res, 200, MigrationStatusJson(*m));
}

void ApiServer::ControlMigration(const httplib::Request& req, httplib::Response& res) {
  std::string name = req.matches[1], id = req.matches[2], action = req.matches[3];
  MigrationResult result = StoreError{500, "unknown action"};
  if (action == "pause") result = migrations_->Pause(name, id);
  if (action == "resume") result = migrations_->Resume(name, id);
  if (action == "cancel") result = migrations_->Cancel(name, id);
  if (action == "throttle") {
    auto body = Body(req, res, /*empty_is_object=*/true);
    if (!body) return;
    auto throttle = ReadThrottle(*body, res);
    if (!throttle) return;
    result = migrations_->SetThrottle(name, id, *throttle);
  }
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  spdlog::info("cluster {}: migration {}: {}", name, id, action);
  Reply(res, 200, MigrationStatusJson(std::get<MigrationRecord>(result)));
}

void ApiServer::Rebalance(const httplib::Request& req, httplib::Response& res) {
  auto body = Body(req, res, /*empty_is_object=*/true);
  if (!body) return;
  std::vector<std::string> keep;
  if (body->contains("shards")) {
    const json& shards = (*body)["shards"];
    if (!shards.is_array())
      return Reply(res, 400, json{{"error", "\"shards\" must be an array of shard ids"}});
    for (const auto& s : shards) {
      if (!s.is_string()) return Reply(res, 400, json{{"error", "\"shards\" must be an array of shard ids"}});
      keep.push_back(s.get<std::string>());
    }
  }
  auto throttle = ReadThrottle(body->value("throttle", json()), res);
  if (!throttle) return;
  auto result = migrations_->Rebalance(req.matches[1], keep, *throttle);
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  Reply(res, 200, json{{"migrations", MigrationsJson(std::get<std::vector<MigrationRecord>>(result))}});
}

void ApiServer::ListProxies(const httplib::Request& req, httplib::Response& res) {
  auto proxies = proxies_->Live(req.matches[1]);
  if (!proxies.ok()) return Reply(res, 503, json{{"error", proxies.error()}});
  Reply(res, 200, json{{"proxies", ProxiesJson(proxies.value())}});
}

}  // namespace redkube::configserver
