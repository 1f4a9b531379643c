#include "configserver/server_settings.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "core/config_parameters.h"

namespace redkube::configserver {
namespace {

// A server that was set, with what to put back.
struct Changed {
  std::string node;
  std::unique_ptr<RedisClient> client;
  ServerSettingsMap previous;
};

// The current values of `settings`' parameters on the server (CONFIG GET,
// one per parameter, in one round trip). A parameter the server does not
// know is left out: its CONFIG SET is refused before anything changes.
Result<ServerSettingsMap> CurrentValues(RedisClient* client, const ServerSettingsMap& settings) {
  std::vector<std::vector<std::string>> gets;
  for (const auto& [param, value] : settings) gets.push_back({"CONFIG", "GET", param});
  auto replies = client->Pipeline(gets);
  if (!replies.ok()) return replies.status();
  ServerSettingsMap previous;
  for (const RedisReply& r : replies.value()) {
    if (r.IsError()) return Status::Error("CONFIG GET: " + r.str);
    if (r.type == RedisReply::Type::kArray && r.elements.size() >= 2) {
      previous[r.elements[0].str] = r.elements[1].str;
    }
  }
  return previous;
}

}  // namespace

std::variant<ServerSettingsMap, StoreError> ValidServerSettings(const ServerSettingsMap& requested) {
  if (requested.empty()) return StoreError{400, "no parameter given: {\"param\": \"value\", ...}"};
  ServerSettingsMap out;
  for (const auto& [name, value] : requested) {
    auto lowered = NormalizedConfigParameter(name);
    if (!lowered)
      return StoreError{400, "Unknown option or number of arguments for CONFIG SET - '" + name + "'"};
    if (auto why = ConfigParameterRefusal(*lowered)) {
      return StoreError{400,
                        "CONFIG SET " + *lowered + " is not allowed through redkube: " + std::string(*why)};
    }
    if (!out.emplace(*lowered, value).second) {
      return StoreError{400, "Duplicate parameter - '" + *lowered + "'"};
    }
  }
  return out;
}

Status SetServerSettings(RedisClient* client, const ServerSettingsMap& settings) {
  std::vector<std::string> argv = {"CONFIG", "SET"};
  for (const auto& [param, value] : settings) {
    argv.push_back(param);
    argv.push_back(value);
  }
  auto reply = client->Command(argv);
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) return Status::Error(reply->str);
  return Status::Ok();
}

ServerSettingsControl::ServerSettingsControl(ClusterStore* store, const ReplicationControl* control)
    : store_(store), control_(control) {}

std::variant<ClusterRecord, StoreError> ServerSettingsControl::Apply(const std::string& cluster,
                                                                     const ServerSettingsMap& settings) {
  std::lock_guard<std::mutex> lock(mu_);
  auto loaded = store_->Load(cluster);
  if (auto* e = std::get_if<StoreError>(&loaded)) return *e;
  const ClusterRecord& record = std::get<ClusterRecord>(loaded);
  std::vector<Changed> changed;
  // Puts every server set so far back, newest first.
  auto put_back = [&] {
    for (auto it = changed.rbegin(); it != changed.rend(); ++it) {
      if (it->previous.empty()) continue;
      Status s = SetServerSettings(it->client.get(), it->previous);
      if (!s.ok()) {
        // The connection may be what failed (a SET that timed out after the
        // server applied it): once more on a new one.
        if (auto fresh = control_->Connect(it->node)) s = SetServerSettings(fresh.get(), it->previous);
      }
      if (!s.ok()) {
        spdlog::error("cluster {}: CONFIG SET: {} could not be put back: {}", cluster, it->node, s.message());
      }
    }
  };
  int answered = 0;
  for (const auto& shard : record.shards) {
    // The master first, then its replicas: a value a master refuses
    // reaches no replica.
    std::vector<std::string> nodes;
    if (!shard.master.empty()) nodes.push_back(shard.master);
    for (const auto& n : shard.nodes) {
      if (n != shard.master) nodes.push_back(n);
    }
    for (const auto& node : nodes) {
      auto client = control_->Connect(node);
      if (!client) continue;
      auto previous = CurrentValues(client.get(), settings);
      std::string refusal;
      if (!previous.ok()) {
        if (previous.error().rfind("CONFIG GET: ", 0) != 0) {
          spdlog::warn(
              "cluster {}: CONFIG SET: {} passed over, it does not answer ({}); it gets the "
              "settings from the prober when it does",
              cluster, node, previous.error());
          continue;
        }
        refusal = previous.error();  // refused even reading them (an ACL, say)
      } else if (Status set = SetServerSettings(client.get(), settings); !set.ok()) {
        // An error reply is a refusal; so is a connection that broke on the
        // way (set or not: it is put back too).
        changed.push_back({node, std::move(client), previous.value()});
        refusal = set.message();
      }
      if (!refusal.empty()) {
        put_back();
        spdlog::warn("cluster {}: CONFIG SET refused by {} (shard {}): {}; {} server(s) put back", cluster,
                     node, shard.id, refusal, changed.size());
        return StoreError{400, "CONFIG SET refused by " + node + " (shard " + shard.id + "): " + refusal};
      }
      ++answered;
      changed.push_back({node, std::move(client), std::move(previous.value())});
    }
  }
  if (answered == 0)
    return StoreError{503, "CONFIG SET not applied: no server of cluster " + cluster + " answered"};
  auto written = store_->Update(cluster, [&](ClusterRecord* r) -> std::optional<StoreError> {
    MergeServerSettings(r, settings);
    return std::nullopt;
  });
  if (auto* e = std::get_if<StoreError>(&written)) {
    put_back();
    return StoreError{e->code, "CONFIG SET not kept (every server put back): " + e->message};
  }
  std::string list;
  for (const auto& [param, value] : settings) list += (list.empty() ? "" : " ") + param + "=" + value;
  spdlog::info("cluster {}: CONFIG SET {} on {} server(s), kept as settings version {}", cluster, list,
               answered, std::get<ClusterRecord>(written).settings_version);
  return written;
}

}  // namespace redkube::configserver
