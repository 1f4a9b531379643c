// The ConfigServer API's JSON answers and request bodies, shared by the
// routes of api_server.cc and api_migrations.cc.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "configserver/cluster_store.h"

namespace redkube::configserver {

inline void Reply(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

inline void ReplyError(httplib::Response& res, const StoreError& e) {
  Reply(res, e.code, nlohmann::json{{"error", e.message}});
}

// The JSON object body, or nullopt after answering 400. `empty_is_object`:
// no body at all reads as {} (the migration routes' bodies are optional).
inline std::optional<nlohmann::json> Body(const httplib::Request& req, httplib::Response& res,
                                          bool empty_is_object = false) {
  nlohmann::json body =
      nlohmann::json::parse(req.body.empty() && empty_is_object ? "{}" : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    Reply(res, 400, nlohmann::json{{"error", "the request body must be a JSON object"}});
    return std::nullopt;
  }
  return body;
}

}  // namespace redkube::configserver
