// redkube-server-start: the server start step as a program (what a shard's
// redis container runs, with --exec, each time it starts; docs/operator.md). Decides
// how this member starts (DecideServerStart, asking the ConfigServer),
// writes the redis.conf redis-server starts from, and remembers the address
// for next time. Exit 0 when the config is written; 1 (saying why) when a
// file cannot be read or written.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/secret_file.h"
#include "runtime/configserver_client.h"
#include "runtime/server_start.h"

namespace {

using namespace redkube;
using namespace redkube::runtime;

int Fail(const std::string& message) {
  fmt::print(stderr, "redkube-server-start: {}\n", message);
  return 1;
}

const char* RoleName(ServerStartDecision::Role role) {
  switch (role) {
    case ServerStartDecision::Role::kMaster:
      return "master";
    case ServerStartDecision::Role::kReplica:
      return "replica";
    case ServerStartDecision::Role::kWaitForFailover:
      break;
  }
  return "waiting";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Decides how a redkube shard member starts and writes its redis.conf"};
  std::vector<std::string> urls;
  std::string token_file, cluster, shard, password_file, bind, dir, include, out;
  int port = 6379;
  int64_t failover_wait_ms = 8000;
  app.add_option("--configserver", urls, "ConfigServer URL (repeatable, or a comma list)")
      ->required()
      ->delimiter(',');
  app.add_option("--token-file", token_file, "the ConfigServer API bearer token")->required();
  app.add_option("--cluster", cluster, "the cluster's name")->required();
  app.add_option("--shard", shard, "this member's shard id (shard-K)")->required();
  app.add_option("--password-file", password_file, "the cluster's redis password")->required();
  app.add_option("--bind", bind, "the address redis-server listens on (the pod IP)")->required();
  app.add_option("--port", port, "its port")->check(CLI::Range(1, 65535));
  app.add_option("--dir", dir, "its data dir (the volume)")->required();
  app.add_option("--include", include, "a redis.conf to include, if the file exists");
  app.add_option("--out", out, "where to write the redis.conf")->required();
  bool exec_server = false;
  app.add_flag("--exec", exec_server,
               "then exec `redis-server OUT` (a container runs the step each time it starts)");
  app.add_option("--failover-wait-ms", failover_wait_ms,
                 "how long a returning master waits for the shard to fail over")
      ->check(CLI::Range(int64_t{0}, int64_t{600000}));
  CLI11_PARSE(app, argc, argv);

  auto token = ReadSecretFile(token_file);
  if (!token.ok()) return Fail(token.error());
  auto password = ReadSecretFile(password_file);
  if (!password.ok()) return Fail(password.error());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("cannot create " + dir + ": " + ec.message());

  const std::string current = bind + ":" + std::to_string(port);
  const std::optional<std::string> previous = ReadPreviousAddress(dir);
  ConfigServerClient configserver(ControlPlane{.configserver_urls = urls, .token = token.value()});
  ServerStartDecision decision = DecideWithConfigServer(configserver, cluster, shard, previous, current,
                                                        std::chrono::milliseconds(failover_wait_ms));

  // A member that ran before may have been this shard's master, and the
  // ConfigServer may have failed it over since: starting it as a master
  // without asking would let a proxy with an older topology write to it,
  // and those writes would vanish when it is made a replica. So it never
  // starts without an answer: exit, and the kubelet tries again (backing
  // off). A first start (no previous address) needs none: a new shard.
  if (decision.unanswered && previous) {
    return Fail("no ConfigServer answered in " + std::to_string(failover_wait_ms) + " ms (" +
                decision.reason + "); a member that ran before never starts without one");
  }
  ServerConfig config{.bind = bind,
                      .port = port,
                      .dir = dir,
                      .password = password.value(),
                      .include = !include.empty() && std::filesystem::exists(include) ? include : "",
                      .replica_of = decision.master};
  if (Status s = WritePrivateFile(out, RenderServerConfig(config)); !s.ok()) return Fail(s.message());
  if (Status s = WritePreviousAddress(dir, current); !s.ok()) return Fail(s.message());
  fmt::print("redkube-server-start: {} of {} at {} (previously {}) starts as {}{}: {}\n", shard, cluster,
             current, previous.value_or("never run"), RoleName(decision.role),
             decision.master ? " of " + decision.master->ToString() : "", decision.reason);
  if (exec_server) {
    std::fflush(stdout);
    // The container's process becomes redis-server: its signals (SIGTERM
    // from the kubelet) and exit status are redis-server's own.
    execlp("redis-server", "redis-server", out.c_str(), static_cast<char*>(nullptr));
    return Fail(std::string("cannot exec redis-server: ") + std::strerror(errno));
  }
  return 0;
}
