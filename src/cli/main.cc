// redkube: runs a redkube cluster on this machine (`up`, `status`, `down`).
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
  return RunDown(down);
}
