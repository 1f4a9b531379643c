// redkube: runs a redkube cluster on this machine (`up`, `status`, `scale`, `migrations`, `down`).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace redkube::cli;
  CLI::App app{"redkube: sharded, replicated Redis behind a proxy, on this machine"};
  app.require_subcommand(1);

  UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "start a cluster (or bring a stopped one back with its data)");
  up_cmd->add_option("--name", up.spec.name, "cluster name")->capture_default_str();
  auto* shards = up_cmd->add_option("--shards", up.spec.shards, "shards")->capture_default_str();
  auto* replicas =
      up_cmd->add_option("--replicas", up.spec.replicas, "replicas per shard")->capture_default_str();
  auto* proxies = up_cmd->add_option("--proxies", up.spec.proxies, "proxies")->capture_default_str();
  auto* port = up_cmd
                   ->add_option("--port", up.spec.port,
                                "first proxy port; the cluster uses ports PORT..PORT+100+10*shards")
                   ->capture_default_str();
  up_cmd->add_option("--dir", up.dir, "where clusters keep their data")->capture_default_str();
  up_cmd->add_flag("--detach", up.detach, "return once the cluster is ready; a supervisor keeps it running");

  StatusOptions status;
  auto* status_cmd = app.add_subcommand("status", "show shards, servers, proxies and ConfigServers");
  status_cmd->add_option("--name", status.name, "cluster name")->capture_default_str();
  status_cmd->add_option("--dir", status.dir, "where clusters keep their data")->capture_default_str();
  status_cmd->add_flag("--json", status.json, "print JSON instead of a table");

  DownOptions down;
  auto* down_cmd = app.add_subcommand("down", "stop a cluster (its data stays unless --purge)");
  down_cmd->add_option("--name", down.name, "cluster name")->capture_default_str();
  down_cmd->add_option("--dir", down.dir, "where clusters keep their data")->capture_default_str();
  down_cmd->add_flag("--purge", down.purge, "also delete the cluster's data");

  ScaleOptions scale;
  auto* scale_cmd = app.add_subcommand("scale", "grow or shrink a running cluster, moving slots online");
  scale_cmd->add_option("--name", scale.name, "cluster name")->capture_default_str();
  scale_cmd->add_option("--dir", scale.dir, "where clusters keep their data")->capture_default_str();
  scale_cmd->add_option("--shards", scale.shards, "the number of shards to have")->required();
  scale_cmd
      ->add_option("--throttle-keys", scale.throttle_keys,
                   "keys moved per second per migration (0: no limit)")
      ->capture_default_str();
  scale_cmd
      ->add_option("--throttle-bytes", scale.throttle_bytes,
                   "bytes moved per second per migration (0: no limit)")
      ->capture_default_str();

  MigrationsOptions migrations;
  auto* migrations_cmd = app.add_subcommand("migrations", "list, pause, resume or cancel slot migrations");
  migrations_cmd->add_option("action", migrations.action, "list, pause, resume or cancel")
      ->check(CLI::IsMember({"list", "pause", "resume", "cancel"}))
      ->capture_default_str();
  migrations_cmd->add_option("id", migrations.id, "a migration id, or all (every one the action applies to)")
      ->capture_default_str();
  migrations_cmd->add_option("--name", migrations.name, "cluster name")->capture_default_str();
  migrations_cmd->add_option("--dir", migrations.dir, "where clusters keep their data")
      ->capture_default_str();
  migrations_cmd->add_flag("--json", migrations.json, "list as JSON");

  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("redkube"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ redkube: %v");

  if (up_cmd->parsed()) {
    up.shards_given = shards->count() > 0;
    up.replicas_given = replicas->count() > 0;
    up.proxies_given = proxies->count() > 0;
    up.port_given = port->count() > 0;
    return RunUp(up);
  }
  if (status_cmd->parsed()) return RunStatus(status);
  if (scale_cmd->parsed()) return RunScale(scale);
  if (migrations_cmd->parsed()) return RunMigrations(migrations);
  return RunDown(down);
}
