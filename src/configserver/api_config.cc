// ApiServer's routes for the servers' settings (CONFIG SET through the
// proxies, docs/configserver.md "Settings kept for every server"):
//
//   POST /v1/clusters/NAME/config   {"param": "value", ...}
//        applied to every server, all or none, then kept: 200 with the
//        settings now kept, 400 naming the server that refused
//   GET  /v1/clusters/NAME/config   the settings kept, and their version
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "configserver/api_replies.h"
#include "configserver/api_server.h"
#include "configserver/server_settings.h"

namespace redkube::configserver {
namespace {

using nlohmann::json;

json SettingsJson(const ClusterRecord& record) {
  return json{
      {"cluster", record.name}, {"settings", record.server_settings}, {"version", record.settings_version}};
}

}  // namespace

void ApiServer::SetServerConfig(const httplib::Request& req, httplib::Response& res) {
  if (settings_ == nullptr) return Reply(res, 503, json{{"error", "this ConfigServer does not set servers"}});
  auto body = Body(req, res);
  if (!body) return;
  ServerSettingsMap requested;
  for (const auto& [param, value] : body->items()) {
    if (!value.is_string()) {
      return Reply(res, 400, json{{"error", "\"" + param + "\" must be a string, as CONFIG SET takes it"}});
    }
    requested[param] = value.get<std::string>();
  }
  auto valid = ValidServerSettings(requested);
  if (auto* e = std::get_if<StoreError>(&valid)) return ReplyError(res, *e);
  auto result = settings_->Apply(req.matches[1], std::get<ServerSettingsMap>(valid));
  if (auto* e = std::get_if<StoreError>(&result)) return ReplyError(res, *e);
  Reply(res, 200, SettingsJson(std::get<ClusterRecord>(result)));
}

void ApiServer::GetServerConfig(const httplib::Request& req, httplib::Response& res) {
  auto record = store_->Cached(req.matches[1]);
  if (!record) return Reply(res, 404, json{{"error", "no cluster named " + std::string(req.matches[1])}});
  Reply(res, 200, SettingsJson(*record));
}

}  // namespace redkube::configserver
