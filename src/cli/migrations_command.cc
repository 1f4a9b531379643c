// `redkube migrations [list|pause|resume|cancel] [ID|all]`: the slot
// migrations of a local cluster, as the ConfigServer runs them, and their
// controls (docs/migration.md, "States and control").
#include <fmt/core.h>

#include "cli/commands.h"
#include "runtime/configserver_client.h"
#include "runtime/scale_plan.h"

namespace redkube::cli {
namespace {

using namespace redkube::runtime;
using nlohmann::json;

std::string Field(const json& m, const char* key) {
  const json v = m.value(key, json());
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  return v.is_null() ? "-" : v.dump();
}

// Whether `action` applies to a migration in `state` (for "all").
bool Applies(const std::string& action, const std::string& state) {
  if (action == "pause") return state == "running" || state == "queued";
  if (action == "resume") return state == "paused";
  return state == "queued" || state == "running" || state == "paused";  // cancel
}

}  // namespace

void PrintMigrationTable(const json& migrations) {
  fmt::print("{:<12} {:<9} {:<9} {:<11} {:>13} {:>9} {:>10} {:>7}  {}\n", "MIGRATION", "FROM", "TO", "STATE",
             "SLOTS", "KEYS", "KEYS/S", "ETA", "NOTE");
  for (const auto& m : migrations) {
    std::string note = Field(m, "message");
    if (auto waiting = m.value("waiting_for", json::array()); !waiting.empty()) {
      note = "waiting for proxy " + waiting.dump();
    }
    bool running = m.value("state", "") == "running";
    fmt::print("{:<12} {:<9} {:<9} {:<11} {:>13} {:>9} {:>10} {:>7}  {}\n", Field(m, "id"), Field(m, "from"),
               Field(m, "to"), Field(m, "state"),
               fmt::format("{:.0f}/{:.0f}", NumberOr(m, "slots_done", 0), NumberOr(m, "slots_total", 0)),
               HumanCount(NumberOr(m, "keys_moved", 0)),
               running ? HumanCount(NumberOr(m, "keys_per_s", 0)) : "-",
               running ? HumanDuration(NumberOr(m, "eta_s", -1)) : "-", note);
  }
}

int RunMigrations(const MigrationsOptions& o) {
  auto layout = RunningCluster(o.dir, o.name);
  if (!layout.ok()) {
    fmt::print(stderr, "redkube migrations: {}\n", layout.error());
    return 1;
  }
  ConfigServerClient configserver(LocalControlPlane(layout.value()));
  auto listing = configserver.ListMigrations(o.name);
  if (!listing.ok()) {
    fmt::print(stderr, "redkube migrations: {}\n", listing.error());
    return 1;
  }
  const json migrations = listing->value("migrations", json::array());
  if (o.action == "list") {
    if (o.json) {
      fmt::print("{}\n", listing.value().dump(2));
    } else if (migrations.empty()) {
      fmt::print("cluster {} has no migrations\n", o.name);
    } else {
      PrintMigrationTable(migrations);
    }
    return 0;
  }
  std::vector<std::string> ids;
  if (o.id == "all") {
    for (const auto& m : migrations) {
      if (Applies(o.action, m.value("state", ""))) ids.push_back(m.value("id", ""));
    }
    if (ids.empty()) fmt::print("no migration of cluster {} to {}\n", o.name, o.action);
  } else {
    ids.push_back(o.id);
  }
  int failed = 0;
  for (const auto& id : ids) {
    Status s = configserver.ControlMigration(o.name, id, o.action);
    if (s.ok()) {
      fmt::print("{}: {}\n", id,
                 o.action == "cancel" ? "cancelling (the step in flight finishes first)" : o.action + "d");
    } else {
      fmt::print(stderr, "redkube migrations: {}\n", s.message());
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace redkube::cli
