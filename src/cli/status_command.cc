// `redkube status`: one view of a local cluster, gathered from the
// ConfigServer (topology, epoch, leader), every server and proxy (INFO), the
// supervisor's processes.json (pids, restarts), etcd's /health and the
// migrations in progress.
#include <fmt/core.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/redis_client.h"
#include "core/secret_file.h"
#include "core/strings.h"
#include "runtime/cluster_view.h"
#include "runtime/configserver_client.h"
#include "runtime/local/cluster_directory.h"
#include "runtime/scale_plan.h"
#include "runtime/shard_name.h"

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

std::string SlotsText(const std::vector<SlotRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ",";
    out += std::to_string(r.first) + "-" + std::to_string(r.last);
  }
  return out;
}

// What every part of the status reads: the layout, and whether the cluster
// runs (servers are asked only then).
struct StatusContext {
  const LocalLayout& layout;
  std::string host;
  std::string password;
  json processes;  // ProcessesByName
  bool running = false;

  // A field of the supervisor's report on the process `name` (null if none).
  json ProcessField(const std::string& name, const char* field) const {
    return processes.contains(name) ? processes[name].value(field, json()) : json();
  }
  // name, address, pid and restarts: the columns every process shares.
  json Process(const std::string& name, const std::string& address) const {
    return {{"name", name},
            {"address", address},
            {"pid", ProcessField(name, "pid")},
            {"restarts", ProcessField(name, "restarts")}};
  }
};

// One redis-server of a shard; sets *master_offset when it is the master.
json MemberStatus(const StatusContext& c, const ShardView& shard_record, int shard, int member,
                  std::optional<int64_t>* master_offset) {
  const std::string name = LocalLayout::ServerName(shard, member);
  HostPort address{c.host, static_cast<uint16_t>(c.layout.ServerPort(shard, member))};
  json status = c.Process(name, address.ToString());
  auto info = c.running ? Info(address, c.password) : std::nullopt;
  if (!info) {
    status["health"] = "down";
    return status;
  }
  std::string role = InfoField(*info, "role");
  status["role"] = role == "slave" ? "replica" : role;
  status["keys"] = KeysOf(*info);
  status["memory"] = InfoField(*info, "used_memory_human");
  status["offset"] = Offset(*info);
  if (address.ToString() == shard_record.master && role == "master") *master_offset = Offset(*info);
  const NodeView* node = shard_record.Node(address.ToString());
  status["health"] = node == nullptr ? "unregistered" : !node->in_sync ? "syncing" : "up";
  if (role == "slave") status["link"] = InfoField(*info, "master_link_status");
  return status;
}

// One shard and its servers; adds the slots it serves to *slots_served.
json ShardStatus(const StatusContext& c, const std::optional<ClusterView>& record, int s, int* slots_served) {
  const std::string id = ShardGroupName(s);
  const ShardView* found = record ? record->Shard(id) : nullptr;
  const ShardView shard_record = found != nullptr ? *found : ShardView{.id = id};
  json shard = {{"id", id}, {"slots", SlotsText(shard_record.slots)}, {"master", shard_record.master}};
  if (!shard_record.master.empty()) *slots_served += shard_record.SlotCount();
  std::optional<int64_t> master_offset;
  json members = json::array();
  for (int m = 0; m <= c.layout.spec().replicas; ++m) {
    members.push_back(MemberStatus(c, shard_record, s, m, &master_offset));
  }
  for (auto& member : members) {
    if (member.value("role", "") == "replica" && master_offset) {
      member["lag_bytes"] = *master_offset - member.value("offset", int64_t{0});
    }
  }
  shard["members"] = members;
  return shard;
}

json ProxiesStatus(const StatusContext& c) {
  json proxies = json::array();
  for (int i = 0; i < c.layout.spec().proxies; ++i) {
    HostPort address{c.host, static_cast<uint16_t>(c.layout.ProxyPort(i))};
    json proxy = c.Process(LocalLayout::ProxyName(i), address.ToString());
    auto info = c.running ? Info(address, c.password) : std::nullopt;
    proxy["health"] = info ? "up" : "down";
    if (info) proxy["clients"] = InfoField(*info, "connected_clients");
    proxies.push_back(proxy);
  }
  return proxies;
}

// The ConfigServers (their /healthz) and etcd (its /health).
json ControlPlaneStatus(const StatusContext& c, const ControlPlane& plane) {
  json control = json::array();
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    json entry = c.Process(LocalLayout::ConfigServerName(i),
                           c.host + ":" + std::to_string(c.layout.ConfigServerPort(i)));
    entry["health"] = "down";
    if (c.running) {
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
  const std::string etcd_address = c.host + ":" + std::to_string(c.layout.EtcdClientPort());
  json etcd = c.Process("etcd", etcd_address);
  etcd["health"] = "down";
  if (c.running) {
    httplib::Client client("http://" + etcd_address);
    client.set_connection_timeout(0, 500000);
    if (auto res = client.Get("/health"); res && res->status == 200) etcd["health"] = "up";
  }
  control.push_back(etcd);
  return control;
}

json Gather(const LocalLayout& layout) {
  const auto& spec = layout.spec();
  auto supervisor = RunningSupervisor(layout);
  const StatusContext c{.layout = layout,
                        .host = layout.host(),
                        .password = Secret(layout.PasswordFile()),
                        .processes = ProcessesByName(layout),
                        .running = supervisor.has_value()};
  json doc = {{"cluster", spec.name}, {"dir", layout.ClusterDir()}};
  doc["running"] = c.running;
  doc["supervisor_pid"] = supervisor ? json(*supervisor) : json();

  ControlPlane plane{.configserver_urls = {}, .token = Secret(layout.TokenFile())};
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    plane.configserver_urls.push_back("http://" + c.host + ":" + std::to_string(layout.ConfigServerPort(i)));
  }
  std::optional<ClusterView> record;
  if (c.running) {
    auto got = ConfigServerClient(plane).GetCluster(spec.name);
    if (got.ok()) {
      record = std::move(got.value());
    } else {
      doc["configserver_error"] = got.error();
    }
  }
  doc["epoch"] = record ? json(record->epoch) : json();
  // The migrations in progress (finished ones: `redkube migrations`).
  json migrations = json::array();
  if (c.running && record) {
    auto listing = ConfigServerClient(plane).ListMigrations(spec.name);
    for (const auto& m : listing.ok() ? listing->value("migrations", json::array()) : json::array()) {
      if (MigrationActive(m)) migrations.push_back(m);
    }
  }
  doc["migrations"] = migrations;

  json shards = json::array();
  int slots_served = 0;
  for (int s = 0; s < spec.shards; ++s) shards.push_back(ShardStatus(c, record, s, &slots_served));
  doc["shards"] = shards;
  doc["slots_served"] = slots_served;
  doc["proxies"] = ProxiesStatus(c);
  doc["control_plane"] = ControlPlaneStatus(c, plane);
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
             Text(doc["cluster"]), Text(doc["supervisor_pid"]), Text(doc["epoch"]),
             Text(doc["slots_served"]));
  if (doc.contains("configserver_error")) fmt::print("  ConfigServer: {}\n", Text(doc["configserver_error"]));
  fmt::print("\n{:<9} {:<12} {:<11} {:<16} {:<8} {:<13} {:>8} {:>9} {:>9} {:>8}\n", "SHARD", "SLOTS",
             "SERVER", "ADDRESS", "ROLE", "HEALTH", "KEYS", "MEMORY", "LAG(B)", "RESTARTS");
  for (const auto& shard : doc["shards"]) {
    bool first = true;
    for (const auto& m : shard["members"]) {
      fmt::print("{:<9} {:<12} {:<11} {:<16} {:<8} {:<13} {:>8} {:>9} {:>9} {:>8}\n",
                 first ? Text(shard["id"]) : "", first ? Text(shard["slots"]) : "", Text(m["name"]),
                 Text(m["address"]), Text(m.value("role", json())), Text(m["health"]),
                 Text(m.value("keys", json())), Text(m.value("memory", json())),
                 Text(m.value("lag_bytes", json())), Text(m["restarts"]));
      first = false;
    }
  }
  if (!doc["migrations"].empty()) {
    fmt::print("\n");
    PrintMigrationTable(doc["migrations"]);
  }
  fmt::print("\n{:<15} {:<16} {:<8} {:>8} {:>8}\n", "PROXY", "ADDRESS", "HEALTH", "CLIENTS", "RESTARTS");
  for (const auto& p : doc["proxies"]) {
    fmt::print("{:<15} {:<16} {:<8} {:>8} {:>8}\n", Text(p["name"]), Text(p["address"]), Text(p["health"]),
               Text(p.value("clients", json())), Text(p["restarts"]));
  }
  fmt::print("\n{:<15} {:<16} {:<8} {:>8} {:>8}\n", "CONTROL PLANE", "ADDRESS", "HEALTH", "LEADER",
             "RESTARTS");
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
