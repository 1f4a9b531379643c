// redkube-proxy: the RESP proxy in front of a sharded set of redis-servers.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/secret_file.h"
#include "core/signals.h"
#include "core/topology.h"
#include "proxy/admin_server.h"
#include "proxy/config_relay.h"
#include "proxy/master_witness.h"
#include "proxy/proxy_list_watcher.h"
#include "proxy/proxy_server.h"
#include "proxy/replica_monitor.h"
#include "proxy/topology_watcher.h"

namespace {

using redkube::Result;
using redkube::Status;
using redkube::Topology;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitUrls(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Fetches the first topology from the ConfigServer, retrying until one
// answers or a stop signal arrives (nullptr then).
std::shared_ptr<const Topology> FirstTopology(redkube::proxy::TopologyWatcher* watcher,
                                              const redkube::SignalWaiter& signals) {
  std::string last_error;
  while (true) {
    auto topology = watcher->FetchOnce();
    if (topology.ok()) return topology.value();
    if (topology.error() != last_error) {
      spdlog::warn("waiting for the ConfigServer: {}", topology.error());
      last_error = topology.error();
    }
    int sig = signals.WaitFor(std::chrono::milliseconds(500));
    if (sig == SIGTERM || sig == SIGINT) return nullptr;
  }
}

Result<std::shared_ptr<const Topology>> LoadTopology(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto topology = Topology::FromJson(text.value());
  if (!topology.ok()) return Status::Error(path + ": " + topology.error());
  return topology;
}

// --read-from and the replica lag bound.
void AddReadFlags(CLI::App* app, redkube::proxy::ProxyOptions* options) {
  const std::map<std::string, redkube::proxy::ReadFrom> read_from_names = {
      {"master", redkube::proxy::ReadFrom::kMaster},
      {"replica", redkube::proxy::ReadFrom::kReplica},
      {"prefer-replica", redkube::proxy::ReadFrom::kPreferReplica},
  };
  app->add_option("--read-from", options->read_from,
                  "where read-only commands go: master, replica (in sync only) or prefer-replica")
      ->transform(CLI::CheckedTransformer(read_from_names, CLI::ignore_case))
      ->default_str("master");
  app->add_option("--replica-max-lag-s", options->replica_max_lag_s,
                  "replicas whose master last heard from them longer ago are not read from")
      ->capture_default_str();
  app->add_option("--resp3", options->resp3, "answer HELLO 3 (RESP3 clients); false: -NOPROTO, RESP2 only")
      ->capture_default_str();
}

// Takes signals until SIGTERM or SIGINT. SIGHUP reloads `topology_path`
// (with a ConfigServer, "": the ConfigServer is the source).
void WaitForStop(const redkube::SignalWaiter& signals, const std::string& topology_path,
                 redkube::proxy::ProxyServer* server) {
  while (true) {
    int sig = signals.Wait();
    if (sig != SIGHUP) {
      spdlog::info("{}: finishing in-flight requests, then exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
    if (topology_path.empty()) continue;
    auto reloaded = LoadTopology(topology_path);
    if (!reloaded.ok()) {
      spdlog::error("SIGHUP: topology not reloaded: {}", reloaded.error());
      continue;
    }
    server->UpdateTopology(reloaded.value());
  }
}

// Room for --max-clients connections plus backends and the process's own.
void RaiseFileLimit(int max_clients) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = static_cast<rlim_t>(max_clients) + 1024;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The command line, as given.
struct Flags {
  redkube::proxy::ProxyOptions options;
  std::string topology_path, password_file, configserver, cluster, token_file;
  size_t output_limit_mb = options.output_limit_bytes >> 20;
  size_t pubsub_output_limit_mb = options.pubsub_output_limit_bytes >> 20;
};

void AddFlags(CLI::App* app, Flags* f) {
  redkube::proxy::ProxyOptions& options = f->options;
  app->add_option("--port", options.port, "client port")->required();
  app->add_option("--bind", options.bind, "address to listen on")->capture_default_str();
  app->add_option("--announce-address", options.announce_address,
                  "HOST:PORT clients reach this proxy at, reported to the ConfigServer and presented to "
                  "cluster-mode clients (default: --bind:--port, unless --bind is 0.0.0.0 or ::, when "
                  "none is announced and each client is told the address it connected to)");
  auto* topology_opt =
      app->add_option("--topology", f->topology_path, "topology JSON file (SIGHUP reloads it)")
          ->check(CLI::ExistingFile);
  auto* configserver_opt =
      app->add_option("--configserver", f->configserver,
                      "ConfigServer URL(s), comma separated: follow the cluster's topology there");
  topology_opt->excludes(configserver_opt);
  app->add_option("--cluster", f->cluster, "cluster name on the ConfigServer")->needs(configserver_opt);
  app->add_option("--token-file", f->token_file, "bearer token for the ConfigServer API")
      ->needs(configserver_opt)
      ->check(CLI::ExistingFile);
  app->add_option("--threads", options.threads, "event-loop threads (default: one per core)");
  app->add_option("--password-file", f->password_file,
                  "file holding the cluster password: clients must AUTH, backends get AUTH")
      ->check(CLI::ExistingFile);
  app->add_option("--admin-port", options.admin_port, "HTTP port for /metrics and /healthz");
  app->add_option("--max-clients", options.max_clients, "maximum client connections")->capture_default_str();
  app->add_option("--backend-timeout-ms", options.backend.reply_timeout_ms,
                  "a backend owing a reply this long is marked down")
      ->capture_default_str();
  app->add_option("--connect-timeout-ms", options.backend.connect_timeout_ms, "backend connect timeout")
      ->capture_default_str();
  app->add_option("--client-output-limit-mb", f->output_limit_mb,
                  "disconnect a client whose unread replies pass this (0: no limit)")
      ->capture_default_str();
  app->add_option("--pubsub-output-limit-mb", f->pubsub_output_limit_mb,
                  "the same for subscribers (0: no limit)")
      ->capture_default_str();
  app->add_option("--client-idle-timeout-s", options.idle_timeout_s,
                  "disconnect clients idle this long (0: never; not subscribers or blocked clients)")
      ->capture_default_str();
  AddReadFlags(app, &options);
  app->add_option("--slowlog-slower-than-us", options.slowlog_slower_than_us,
                  "SLOWLOG keeps requests taking this long or more, servers included (-1: none)")
      ->capture_default_str();
  app->add_option("--slowlog-max-len", options.slowlog_max_len, "SLOWLOG entries kept")
      ->capture_default_str();
  app->add_option("--id", options.id,
                  "this proxy's name in its epoch reports to the ConfigServer (default: HOSTNAME:PORT)");
  app->add_option("--hold-timeout-ms", options.hold_timeout_ms,
                  "a request for a key being moved in chunks waits this long, then answers -TRYAGAIN")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--configserver-lease-ms", options.configserver_lease_ms,
                  "with --configserver: refuse writes (-CLUSTERDOWN) once no poll sent within this long "
                  "has succeeded (0: never)")
      ->capture_default_str();
  app->add_option("--shutdown-grace-ms", options.shutdown_grace_ms,
                  "on SIGTERM, how long in-flight requests may take")
      ->capture_default_str();
}

// Checks what CLI11 cannot, and reads the secret files into the options;
// *token gets the ConfigServer's bearer token.
Status ApplyFlags(Flags* f, std::string* token) {
  f->options.output_limit_bytes = f->output_limit_mb << 20;
  f->options.pubsub_output_limit_bytes = f->pubsub_output_limit_mb << 20;
  if (f->options.id.empty()) {
    // Unique per pod on Kubernetes (the host name is the pod's), per port
    // on one machine.
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
      snprintf(host, sizeof(host), "localhost");
    f->options.id = std::string(host) + ":" + std::to_string(f->options.port);
  }
  if (f->options.announce_address.empty() && f->options.bind != "0.0.0.0" && f->options.bind != "::" &&
      !f->options.bind.empty()) {
    f->options.announce_address = f->options.bind + ":" + std::to_string(f->options.port);
  }
  if (!f->options.announce_address.empty()) {
    if (auto a = redkube::ParseHostPort(f->options.announce_address); !a.ok()) {
      return Status::Error("--announce-address: " + a.error());
    }
  }
  if (f->topology_path.empty() == f->configserver.empty()) {
    return Status::Error("give either --topology FILE or --configserver URL --cluster NAME");
  }
  if (!f->configserver.empty() && f->cluster.empty()) {
    return Status::Error("--configserver needs --cluster NAME");
  }
  if (!f->token_file.empty()) {
    auto t = redkube::ReadSecretFile(f->token_file);
    if (!t.ok()) return t.status();
    *token = t.value();
  }
  if (!f->password_file.empty()) {
    auto password = redkube::ReadSecretFile(f->password_file);
    if (!password.ok()) return password.status();
    f->options.password = password.value();
    f->options.backend.password = password.value();
  }
  return Status::Ok();
}

// Everything that runs once the first topology is known, until a stop
// signal: the proxy, its admin endpoint, the watcher and the replica
// monitor. Returns the exit code.
int Serve(const Flags& f, const std::string& token, const std::shared_ptr<const Topology>& topology,
          redkube::proxy::TopologyWatcher* watcher, const redkube::SignalWaiter& signals) {
  const redkube::proxy::ProxyOptions& options = f.options;
  redkube::proxy::ProxyServer server(options, topology);
  // Stopped before the server shuts down (its answers are posted to workers).
  std::unique_ptr<redkube::proxy::ConfigRelay> config_relay;
  if (watcher != nullptr) {
    config_relay =
        std::make_unique<redkube::proxy::ConfigRelay>(SplitUrls(f.configserver), f.cluster, watcher->token());
    config_relay->Start();
    server.set_config_relay(config_relay.get());
  }
  if (Status started = server.Start(); !started.ok()) {
    spdlog::error("{}", started.message());
    return 1;
  }
  std::unique_ptr<redkube::proxy::AdminServer> admin;
  if (options.admin_port > 0) {
    admin = std::make_unique<redkube::proxy::AdminServer>(&server, options.bind,
                                                          static_cast<uint16_t>(options.admin_port));
    if (Status s = admin->Start(); !s.ok()) {
      spdlog::error("{}", s.message());
      if (config_relay) config_relay->Stop();
      server.Shutdown();
      return 1;
    }
  }
  spdlog::info("listening on {}:{} with {} threads, cluster {} epoch {}, {} shards", options.bind,
               options.port, server.options().threads, topology->cluster(), topology->epoch(),
               topology->shards().size());
  // Always on: the proxy's view of its masters is what its reports carry,
  // and the ConfigServer fails a master over only with every proxy's word.
  redkube::proxy::MasterWitness witness(&server, options.backend.password);
  if (watcher != nullptr) {
    watcher->set_witness(&witness);
    witness.set_on_change([watcher] { watcher->Interrupt(); });
    server.EnableConfigServerLease(watcher->last_answer_sent_ms());
  }
  witness.Start();
  if (watcher != nullptr) watcher->Start(&server, topology->epoch());
  // The live proxies, for cluster-mode clients (CLUSTER SLOTS, NODES...).
  std::unique_ptr<redkube::proxy::ProxyListWatcher> proxy_list;
  if (watcher != nullptr) {
    proxy_list = std::make_unique<redkube::proxy::ProxyListWatcher>(SplitUrls(f.configserver), f.cluster,
                                                                    token, &server);
    proxy_list->Start();
  }
  std::unique_ptr<redkube::proxy::ReplicaMonitor> replica_monitor;
  if (options.read_from != redkube::proxy::ReadFrom::kMaster) {
    replica_monitor = std::make_unique<redkube::proxy::ReplicaMonitor>(
        &server, options.backend.password, options.replica_check_interval_ms, options.replica_max_lag_s);
    replica_monitor->Start();
  }
  WaitForStop(signals, watcher != nullptr ? "" : f.topology_path, &server);
  if (watcher != nullptr) watcher->Stop();
  if (proxy_list) proxy_list->Stop();
  witness.Stop();
  if (replica_monitor) replica_monitor->Stop();
  if (admin) admin->Stop();
  // Before the workers go: a CONFIG SET answer still on its way would be
  // posted to a worker Shutdown() freed.
  if (config_relay) config_relay->Stop();
  server.Shutdown();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"redkube-proxy: routes Redis commands by slot to the shards of a redkube cluster"};
  Flags flags;
  AddFlags(&app, &flags);
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("proxy"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ redkube-proxy: %v");

  std::string token;
  if (Status s = ApplyFlags(&flags, &token); !s.ok()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  RaiseFileLimit(flags.options.max_clients);

  // Signals are taken by the main thread; workers never see them.
  const redkube::SignalWaiter signals({SIGHUP, SIGTERM, SIGINT});

  std::unique_ptr<redkube::proxy::TopologyWatcher> watcher;
  std::shared_ptr<const Topology> topology;
  if (!flags.configserver.empty()) {
    watcher = std::make_unique<redkube::proxy::TopologyWatcher>(SplitUrls(flags.configserver), flags.cluster,
                                                                token, flags.options.id);
    watcher->set_announce_address(flags.options.announce_address);
    topology = FirstTopology(watcher.get(), signals);
    if (!topology) return 0;
  } else {
    auto loaded = LoadTopology(flags.topology_path);
    if (!loaded.ok()) {
      spdlog::error("invalid topology: {}", loaded.error());
      return 2;
    }
    topology = loaded.value();
  }
  return Serve(flags, token, topology, watcher.get(), signals);
}
