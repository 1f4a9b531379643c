// `redkube status`: one view of a local cluster, gathered from the
// ConfigServer (topology, epoch, leader), every server and proxy (INFO), the
// supervisor's processes.json (pids, restarts) and etcd's /health.
#include <fmt/core.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/redis_client.h"
#include "core/secret_file.h"
#include "core/strings.h"
#include "runtime/configserver_client.h"
#include "runtime/local/cluster_directory.h"

namespace redkube::cli {
namespace {

using namespace redkube::runtime;
using nlohmann::json;

constexpr auto kProbeTimeout = std::chrono::milliseconds(500);

json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::parse(text.str(), nullptr, false);
  return doc.is_discarded() ? json::object() : doc;
}

// name -> {pid, running, restarts} from the supervisor's last report.
json ProcessesByName(const LocalLayout& layout) {
  json by_name = json::object();
  json doc = ReadJsonFile(layout.ProcessesFile());
  for (const auto& p : doc.value("processes", json::array())) by_name[p.value("name", "")] = p;
  return by_name;
}

std::string Secret(const std::string& path) {
  auto s = ReadSecretFile(path);
  return s.ok() ? s.value() : "";
}

std::optional<std::string> Info(const HostPort& address, const std::string& password) {
  RedisClient client(address, password, kProbeTimeout);
  auto reply = client.Command({"INFO"});
  if (!reply.ok() || reply->IsError()) return std::nullopt;
  return reply->str;
}

// "db0:keys=12,expires=0,avg_ttl=0" -> 12
int64_t KeysOf(const std::string& info) {
  std::string db0 = InfoField(info, "db0");
  if (db0.rfind("keys=", 0) != 0) return 0;
  std::string_view keys = std::string_view(db0).substr(5);
  return ParseInt64(keys.substr(0, keys.find(','))).value_or(0);
}

int64_t Offset(const std::string& info) {
  std::string role = InfoField(info, "role");
  std::string v = InfoField(info, role == "master" ? "master_repl_offset" : "slave_repl_offset");
  return ParseInt64(v).value_or(0);
}

std::string SlotsText(const json& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ",";
    out += std::to_string(r[0].get<int>()) + "-" + std::to_string(r[1].get<int>());
  }
  return out;
}

bool Listed(const json& list, const std::string& value) {
  for (const auto& v : list) {
    if (v == value) return true;
  }
  return false;
}

json Gather(const LocalLayout& layout) {
  const auto& spec = layout.spec();
  const std::string host = layout.host();
  const std::string password = Secret(layout.PasswordFile());
  json processes = ProcessesByName(layout);
  auto process_field = [&](const std::string& name, const char* field) -> json {
    return processes.contains(name) ? processes[name].value(field, json()) : json();
  };

  json doc = {{"cluster", spec.name}, {"dir", layout.ClusterDir()}};
  auto supervisor = RunningSupervisor(layout);
  doc["running"] = supervisor.has_value();
  doc["supervisor_pid"] = supervisor ? json(*supervisor) : json();

  ControlPlane plane{.configserver_urls = {}, .token = Secret(layout.TokenFile())};
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    plane.configserver_urls.push_back("http://" + host + ":" + std::to_string(layout.ConfigServerPort(i)));
  }
  json record;
  if (supervisor) {
    auto got = ConfigServerClient(plane).GetCluster(spec.name);
    if (got.ok()) record = got.value();
    else doc["configserver_error"] = got.error();
  }
  doc["epoch"] = record.is_object() ? record.value("epoch", json()) : json();

  json shards = json::array();
  int slots_served = 0;
  for (int s = 0; s < spec.shards; ++s) {
    const std::string id = LocalLayout::ShardId(s);
    json shard_record = json::object();
    if (record.is_object()) {
      for (const auto& r : record.value("shards", json::array())) {
        if (r.value("id", "") == id) shard_record = r;
      }
    }
    std::string master = shard_record.value("master", "");
    json shard = {{"id", id}, {"slots", SlotsText(shard_record.value("slots", json::array()))}, {"master", master}};
    if (!master.empty()) {
      for (const auto& r : shard_record["slots"]) slots_served += r[1].get<int>() - r[0].get<int>() + 1;
    }
    std::optional<int64_t> master_offset;
    json members = json::array();
    for (int m = 0; m <= spec.replicas; ++m) {
      std::string name = LocalLayout::ServerName(s, m);
      HostPort address{host, static_cast<uint16_t>(layout.ServerPort(s, m))};
      json member = {{"name", name},
                     {"address", address.ToString()},
                     {"pid", process_field(name, "pid")},
                     {"restarts", process_field(name, "restarts")}};
      auto info = supervisor ? Info(address, password) : std::nullopt;
      if (!info) {
        member["health"] = "down";
      } else {
        std::string role = InfoField(*info, "role");
        member["role"] = role == "slave" ? "replica" : role;
        member["keys"] = KeysOf(*info);
        member["memory"] = InfoField(*info, "used_memory_human");
        member["offset"] = Offset(*info);
        if (address.ToString() == master && role == "master") master_offset = Offset(*info);
        bool out_of_read_set = Listed(shard_record.value("down", json::array()), address.ToString());
        bool registered = Listed(shard_record.value("nodes", json::array()), address.ToString());
        member["health"] = !registered ? "unregistered" : out_of_read_set ? "syncing" : "up";
        if (role == "slave") member["link"] = InfoField(*info, "master_link_status");
      }
      members.push_back(member);
    }
    for (auto& member : members) {
      if (member.value("role", "") == "replica" && master_offset) {
        member["lag_bytes"] = *master_offset - member.value("offset", int64_t{0});
      }
    }
    shard["members"] = members;
    shards.push_back(shard);
  }
  doc["shards"] = shards;
  doc["slots_served"] = slots_served;

  json proxies = json::array();
  for (int i = 0; i < spec.proxies; ++i) {
    std::string name = LocalLayout::ProxyName(i);
    HostPort address{host, static_cast<uint16_t>(layout.ProxyPort(i))};
    json proxy = {{"name", name}, {"address", address.ToString()}, {"pid", process_field(name, "pid")},
                  {"restarts", process_field(name, "restarts")}};
    auto info = supervisor ? Info(address, password) : std::nullopt;
    proxy["health"] = info ? "up" : "down";
    if (info) proxy["clients"] = InfoField(*info, "connected_clients");
    proxies.push_back(proxy);
  }
  doc["proxies"] = proxies;

  json control = json::array();
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    std::string name = LocalLayout::ConfigServerName(i);
    json entry = {{"name", name}, {"address", host + ":" + std::to_string(layout.ConfigServerPort(i))},
                  {"pid", process_field(name, "pid")}, {"restarts", process_field(name, "restarts")},
                  {"health", "down"}};
    if (supervisor) {
      httplib::Client client(plane.configserver_urls[i]);
      client.set_connection_timeout(0, 500000);
      client.set_read_timeout(1, 0);
      if (auto res = client.Get("/healthz")) {
        auto health = json::parse(res->body, nullptr, false);
        entry["health"] = res->status == 200 ? "up" : "no etcd";
        if (!health.is_discarded()) entry["leader"] = health.value("leader", false);
      }
    }
    control.push_back(entry);
  }
  json etcd = {{"name", "etcd"}, {"address", host + ":" + std::to_string(layout.EtcdClientPort())},
               {"pid", process_field("etcd", "pid")}, {"restarts", process_field("etcd", "restarts")},
               {"health", "down"}};
  if (supervisor) {
    httplib::Client client("http://" + host + ":" + std::to_string(layout.EtcdClientPort()));
    client.set_connection_timeout(0, 500000);
    if (auto res = client.Get("/health"); res && res->status == 200) etcd["health"] = "up";
  }
  control.push_back(etcd);
  doc["control_plane"] = control;
  return doc;
}

std::string Text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

void PrintTable(const json& doc) {
  if (!doc["running"].get<bool>()) {
    fmt::print("cluster {}: stopped (data in {}; `redkube up{}` brings it back)\n", Text(doc["cluster"]),
               Text(doc["dir"]), doc["cluster"] == "demo" ? "" : " --name " + Text(doc["cluster"]));
    return;
  }
  fmt::print("cluster {}: running (supervisor pid {}), topology epoch {}, {}/16384 slots served\n",
             Text(doc["cluster"]), Text(doc["supervisor_pid"]), Text(doc["epoch"]), Text(doc["slots_served"]));
  if (doc.contains("configserver_error")) fmt::print("  ConfigServer: {}\n", Text(doc["configserver_error"]));
  fmt::print("\n{:<9} {:<12} {:<11} {:<16} {:<8} {:<13} {:>8} {:>9} {:>9} {:>8}\n", "SHARD", "SLOTS", "SERVER",
             "ADDRESS", "ROLE", "HEALTH", "KEYS", "MEMORY", "LAG(B)", "RESTARTS");
  for (const auto& shard : doc["shards"]) {
    bool first = true;
    for (const auto& m : shard["members"]) {
      fmt::print("{:<9} {:<12} {:<11} {:<16} {:<8} {:<13} {:>8} {:>9} {:>9} {:>8}\n",
                 first ? Text(shard["id"]) : "", first ? Text(shard["slots"]) : "", Text(m["name"]),
                 Text(m["address"]), Text(m.value("role", json())), Text(m["health"]), Text(m.value("keys", json())),
                 Text(m.value("memory", json())), Text(m.value("lag_bytes", json())), Text(m["restarts"]));
      first = false;
    }
  }
  fmt::print("\n{:<15} {:<16} {:<8} {:>8} {:>8}\n", "PROXY", "ADDRESS", "HEALTH", "CLIENTS", "RESTARTS");
  for (const auto& p : doc["proxies"]) {
    fmt::print("{:<15} {:<16} {:<8} {:>8} {:>8}\n", Text(p["name"]), Text(p["address"]), Text(p["health"]),
               Text(p.value("clients", json())), Text(p["restarts"]));
  }
  fmt::print("\n{:<15} {:<16} {:<8} {:>8} {:>8}\n", "CONTROL PLANE", "ADDRESS", "HEALTH", "LEADER", "RESTARTS");
  for (const auto& c : doc["control_plane"]) {
    fmt::print("{:<15} {:<16} {:<8} {:>8} {:>8}\n", Text(c["name"]), Text(c["address"]), Text(c["health"]),
               Text(c.value("leader", json())), Text(c["restarts"]));
  }
}

}  // namespace

int RunStatus(const StatusOptions& o) {
  auto layout = ExistingCluster(o.dir, o.name);
  if (!layout.ok()) {
    fmt::print(stderr, "redkube status: {}\n", layout.error());
    return 1;
  }
  json doc = Gather(layout.value());
  if (o.json) {
    fmt::print("{}\n", doc.dump(2));
  } else {
    PrintTable(doc);
  }
  return doc["running"].get<bool>() ? 0 : 3;
}

}  // namespace redkube::cli
