// redkube-configserver: holds cluster topologies in etcd, health-checks every
// registered redis-server, fails masters over, and serves proxies the
// topology. Stateless: run several; one leads.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "configserver/api_server.h"
#include "configserver/cluster_operations.h"
#include "configserver/cluster_store.h"
#include "configserver/etcd_client.h"
#include "configserver/leader_lease.h"
#include "configserver/migration_control.h"
#include "configserver/migrator.h"
#include "configserver/prober.h"
#include "configserver/proxy_registry.h"
#include "configserver/replication_control.h"
#include "configserver/server_settings.h"
#include "core/secret_file.h"
#include "core/signals.h"
#include "core/topology.h"

int main(int argc, char** argv) {
  using namespace redkube::configserver;
  CLI::App app{"redkube-configserver: topology, health checks and failover for redkube clusters"};
  std::string etcd_url, listen, token_file, password_file, identity;
  int down_after_ms = 1500, probe_interval_ms = 300, lease_ttl_s = 2, switchover_timeout_ms = 5000;
  app.add_option("--etcd", etcd_url, "etcd client URL, e.g. http://127.0.0.1:2379")->required();
  app.add_option("--listen", listen, "API address host:port")->required();
  app.add_option("--token-file", token_file, "API clients must send this bearer token")
      ->check(CLI::ExistingFile);
  app.add_option("--password-file", password_file, "the clusters' redis password (masterauth too)")
      ->check(CLI::ExistingFile);
  app.add_option("--down-after", down_after_ms, "ms a master may fail probes before failover")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--probe-interval-ms", probe_interval_ms, "ms between probe rounds")
      ->capture_default_str()
      ->check(CLI::Range(20, 60000));
  app.add_option("--lease-ttl", lease_ttl_s, "leader lease TTL in seconds")
      ->capture_default_str()
      ->check(CLI::Range(2, 60));
  app.add_option("--switchover-timeout-ms", switchover_timeout_ms,
                 "how long a planned switchover may pause writes")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  int proxy_expiry_ms = 7000, slots_per_step = 512, parallel_migrations = 4;
  int64_t big_key_bytes = 8 << 20;
  int replica_wait_ms = 30000;
  app.add_option("--replica-wait-ms", replica_wait_ms,
                 "how long the mover waits for replicas to have a batch before it retries the batch")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--proxy-expiry-ms", proxy_expiry_ms,
                 "a proxy not heard from for this long is gone: failovers and migrations stop waiting for "
                 "it (at least the proxies' --configserver-lease-ms + 2 s: they stop writing by then)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 3600000));
  app.add_option("--slots-per-step", slots_per_step, "slots a migration announces and moves at a time")
      ->capture_default_str()
      ->check(CLI::Range(1, 16384));
  app.add_option("--big-key-bytes", big_key_bytes, "keys above this MEMORY USAGE move in chunks")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 40));
  app.add_option("--parallel-migrations", parallel_migrations, "migrations of one cluster running at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--id", identity,
                 "this instance's name in leader election (default: listen address and pid)");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("configserver"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ redkube-configserver: %v");

  auto address = redkube::ParseHostPort(listen);
  if (!address.ok()) {
    spdlog::error("--listen: {}", address.error());
    return 2;
  }
  std::string token, password;
  if (!token_file.empty()) {
    auto t = redkube::ReadSecretFile(token_file);
    if (!t.ok()) return spdlog::error("{}", t.error()), 2;
    token = t.value();
  }
  if (!password_file.empty()) {
    auto p = redkube::ReadSecretFile(password_file);
    if (!p.ok()) return spdlog::error("{}", p.error()), 2;
    password = p.value();
  }
  if (identity.empty()) identity = listen + "/" + std::to_string(getpid());

  // Taken by this thread only: the threads started below inherit the mask.
  const redkube::SignalWaiter signals({SIGTERM, SIGINT});

  EtcdClient etcd(etcd_url);
  ClusterStore store(&etcd);
  ReplicationControl control(password, std::chrono::milliseconds(std::min(down_after_ms / 2, 1000)));
  ClusterOperations operations(&store, &control, std::chrono::milliseconds(switchover_timeout_ms));
  LeaderLease lease(&etcd, identity, lease_ttl_s);
  ProxyRegistry proxies(&etcd, std::chrono::milliseconds(proxy_expiry_ms), std::chrono::milliseconds(1000));
  Prober prober(
      &store, &lease, &control, &proxies,
      ProberOptions{std::chrono::milliseconds(probe_interval_ms), std::chrono::milliseconds(down_after_ms)});
  MigrationControl migration_control(&store);
  MigratorOptions migrator_options;
  migrator_options.mover.password = password;
  migrator_options.mover.big_key_bytes = big_key_bytes;
  migrator_options.mover.replica_wait = std::chrono::milliseconds(replica_wait_ms);
  migrator_options.slots_per_step = slots_per_step;
  Migrator migrator(&store, &lease, &proxies, migrator_options, parallel_migrations);
  ApiServer api(&store, &operations, &migration_control, &proxies, &lease, &prober, token);
  ServerSettingsControl server_settings(&store, &control);
  api.set_server_settings(&server_settings);

  // Follows etcd with a watch; a full read every second checks etcd is alive (CacheFresh).
  // A full read every 500 ms is etcd's liveness check; the cache counts as
  // fresh for 2 s after the last contact, so an etcd slow to answer (a few
  // hundred ms) does not make every instance refuse the proxies' polls.
  store.Start(std::chrono::milliseconds(500), std::chrono::milliseconds(2000));
  redkube::Status s = api.Start(address->host, address->port);
  if (!s.ok()) {
    spdlog::error("{}", s.message());
    store.Stop();
    return 1;
  }
  lease.Start();
  prober.Start();
  migrator.Start();
  spdlog::info("listening on {} as {}, etcd {}, down-after {} ms", listen, identity, etcd_url, down_after_ms);

  int sig = signals.Wait();
  spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  migrator.Stop();
  prober.Stop();
  lease.Stop();  // revokes the lease: a standby leads at once
  store.Stop();  // also ends the topology long-polls in flight
  api.Stop();
  spdlog::info("stopped");
  return 0;
}
