#include "runtime/configserver_client.h"

#include <httplib.h>

namespace redkube::runtime {
namespace {

using nlohmann::json;

std::string ErrorOf(const ConfigServerClient::Reply& reply) {
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_string()) {
    return reply.body["error"].get<std::string>();
  }
  return "HTTP " + std::to_string(reply.status);
}

json ThrottleJson(const ConfigServerApi::Throttle& t) {
  return {{"keys_per_s", t.keys_per_s}, {"bytes_per_s", t.bytes_per_s}};
}

// A call whose answer carries nothing but success: `what` names it in the
// error. `also_ok` is a status that means "already so" (a resumed step).
Status Expect2xx(const Result<ConfigServerClient::Reply>& reply, const std::string& what, int also_ok = 0) {
  if (!reply.ok()) return reply.status();
  if (reply->status / 100 == 2 || reply->status == also_ok) return Status::Ok();
  return Status::Error(what + ": " + ErrorOf(reply.value()));
}

}  // namespace

ConfigServerClient::ConfigServerClient(ControlPlane control_plane)
    : control_plane_(std::move(control_plane)) {}

Result<ConfigServerClient::Reply> ConfigServerClient::Call(const std::string& method, const std::string& path,
                                                           const json& body) {
  std::string last_error = "no ConfigServer URL";
  for (const auto& url : control_plane_.configserver_urls) {
    httplib::Client client(url);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(15, 0);  // a registration probes every node
    if (!control_plane_.token.empty()) client.set_bearer_token_auth(control_plane_.token);
    std::string payload = body.is_null() ? "{}" : body.dump();
    httplib::Result res = method == "GET"    ? client.Get(path)
                          : method == "PUT"  ? client.Put(path, payload, "application/json")
                          : method == "POST" ? client.Post(path, payload, "application/json")
                                             : client.Delete(path);
    if (!res) {
      last_error = url + ": " + httplib::to_string(res.error());
      continue;
    }
    Reply reply;
    reply.status = res->status;
    reply.body = json::parse(res->body, nullptr, false);
    if (reply.body.is_discarded()) reply.body = nullptr;
    return reply;
  }
  return Status::Error("no ConfigServer answered (" + last_error + ")");
}

Result<std::optional<ClusterView>> ConfigServerClient::FindCluster(const std::string& name) {
  auto reply = Call("GET", "/v1/clusters/" + name);
  if (!reply.ok()) return reply.status();
  if (reply->status == 404) return std::optional<ClusterView>();
  if (reply->status != 200) return Status::Error("cluster " + name + ": " + ErrorOf(reply.value()));
  auto view = ClusterView::FromJson(reply->body);
  if (!view.ok()) return Status::Error("cluster " + name + ": " + view.error());
  return std::optional<ClusterView>(std::move(view.value()));
}

Status ConfigServerClient::CreateCluster(const std::string& name, int shards) {
  // 409: another writer created it meanwhile.
  return Expect2xx(Call("POST", "/v1/clusters", json{{"name", name}, {"shards", shards}}),
                   "creating cluster " + name, 409);
}

Status ConfigServerClient::RegisterShard(const std::string& cluster, const std::string& shard,
                                         const std::vector<std::string>& nodes) {
  auto reply = Call("PUT", "/v1/clusters/" + cluster + "/shards/" + shard, json{{"nodes", nodes}});
  if (!reply.ok()) return reply.status();
  if (reply->status / 100 != 2) {
    return Status::Error("registering " + shard + " of " + cluster + ": " + ErrorOf(reply.value()));
  }
  return Status::Ok();
}

Status ConfigServerClient::AddShard(const std::string& cluster, const std::string& id) {
  return Expect2xx(Call("POST", "/v1/clusters/" + cluster + "/shards", json{{"id", id}}),
                   "adding " + id + " to " + cluster, 409);
}

Status ConfigServerClient::DeleteShard(const std::string& cluster, const std::string& id) {
  return Expect2xx(Call("DELETE", "/v1/clusters/" + cluster + "/shards/" + id),
                   "deleting " + id + " of " + cluster, 404);
}

Result<std::vector<std::string>> ConfigServerClient::Rebalance(const std::string& cluster,
                                                               const std::vector<std::string>& shards,
                                                               const Throttle& throttle) {
  auto reply = Call("POST", "/v1/clusters/" + cluster + "/rebalance",
                    json{{"shards", shards}, {"throttle", ThrottleJson(throttle)}});
  if (!reply.ok()) return reply.status();
  if (reply->status / 100 != 2)
    return Status::Error("rebalancing " + cluster + ": " + ErrorOf(reply.value()));
  std::vector<std::string> ids;
  if (reply->body.is_object()) {
    // The queued migrations, as objects with their "id" (or bare ids).
    for (const auto& m : reply->body.value("migrations", json::array())) {
      if (m.is_string()) ids.push_back(m.get<std::string>());
      if (m.is_object() && m.contains("id") && m["id"].is_string()) ids.push_back(m["id"].get<std::string>());
    }
  }
  return ids;
}

Result<json> ConfigServerClient::ListMigrations(const std::string& cluster) {
  auto reply = Call("GET", "/v1/clusters/" + cluster + "/migrations");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200 || !reply->body.is_object()) {
    return Status::Error("migrations of " + cluster + ": " + ErrorOf(reply.value()));
  }
  return reply->body;
}

Status ConfigServerClient::ControlMigration(const std::string& cluster, const std::string& id,
                                            const std::string& action) {
  return Expect2xx(Call("POST", "/v1/clusters/" + cluster + "/migrations/" + id + "/" + action),
                   action + " " + id);
}

Status ConfigServerClient::SetThrottle(const std::string& cluster, const std::string& id,
                                       const Throttle& throttle) {
  return Expect2xx(
      Call("POST", "/v1/clusters/" + cluster + "/migrations/" + id + "/throttle", ThrottleJson(throttle)),
      "throttle " + id);
}

}  // namespace redkube::runtime
