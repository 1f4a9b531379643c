#include "proxy/proxy_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "proxy/command_stats.h"
#include "proxy/event_loop.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

Result<int> Listen(const std::string& bind, uint16_t port, bool reuse_port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) {
    return Status::Error("--bind " + bind + " is not an IPv4 address");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Each worker has its own listening socket on the same port; the kernel
  // spreads new connections across them.
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
    std::string error = strerror(errno);
    close(fd);
    return Status::Error("cannot listen on " + bind + ":" + std::to_string(port) + ": " + error);
  }
  return fd;
}

}  // namespace

ProxyServer::ProxyServer(ProxyOptions options, std::shared_ptr<const Topology> topology)
    : options_(std::move(options)),
      slow_log_(options_.slowlog_slower_than_us, options_.slowlog_max_len),
      topology_(std::move(topology)),
      start_time_ms_(EventLoop::MonotonicMs()) {
  if (options_.threads <= 0) {
    options_.threads = static_cast<int>(std::thread::hardware_concurrency());
    if (options_.threads <= 0) options_.threads = 1;
  }
  applied_ = std::make_unique<AppliedEpochs>(options_.threads);
  if (topology_) addresses_.Update(AddressBook::HostsOf(*topology_));
  options_.backend.addresses = &addresses_;
}

ProxyServer::~ProxyServer() = default;

Status ProxyServer::Start() {
  // SO_REUSEPORT would let us share the port with another process of the same
  // user: bind once without it first so a taken port is an error, not a split.
  auto probe = Listen(options_.bind, options_.port, /*reuse_port=*/false);
  if (!probe.ok()) return probe.status();
  close(probe.value());
  std::vector<int> fds;
  for (int i = 0; i < options_.threads; ++i) {
    auto fd = Listen(options_.bind, options_.port, /*reuse_port=*/true);
    if (!fd.ok()) {
      for (int f : fds) close(f);
      return fd.status();
    }
    fds.push_back(fd.value());
  }
  for (int i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, this, fds[i]));
  }
  for (auto& w : workers_) w->Start();
  return Status::Ok();
}

std::shared_ptr<const Topology> ProxyServer::topology() const {
  std::lock_guard<std::mutex> lock(topology_mu_);
  return topology_;
}

bool ProxyServer::Accepts(const Topology& topology) const {
  if (topology.cluster() != topology_->cluster()) {
    spdlog::warn("topology for cluster {} ignored: this proxy serves cluster {}", topology.cluster(),
                 topology_->cluster());
    return false;
  }
  if (topology.epoch() <= topology_->epoch()) {
    spdlog::info("topology epoch {} ignored: epoch {} is already applied", topology.epoch(),
                 topology_->epoch());
    return false;
  }
  return true;
}

bool ProxyServer::UpdateTopology(std::shared_ptr<const Topology> topology) {
  {
    std::lock_guard<std::mutex> lock(topology_mu_);
    if (!Accepts(*topology)) return false;
  }
  // Workers connect to the new addresses as soon as they see the topology:
  // their names are resolved here, off the event loops, first. Not under the
  // lock: a slow DNS server must not hold up topology() readers.
  addresses_.Update(AddressBook::HostsOf(*topology));
  {
    std::lock_guard<std::mutex> lock(topology_mu_);
    if (!Accepts(*topology)) return false;  // another update won meanwhile
    spdlog::info("topology epoch {} applied ({} shards; was epoch {})", topology->epoch(),
                 topology->shards().size(), topology_->epoch());
    topology_ = std::move(topology);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : workers_) w->NotifyTopology();
  return true;
}

void ProxyServer::SetReadableReplicas(std::shared_ptr<const ReadableReplicas> replicas) {
  {
    std::lock_guard<std::mutex> lock(topology_mu_);
    readable_replicas_ = std::move(replicas);
    replicas_generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : workers_) w->NotifyTopology();
}

std::shared_ptr<const ReadableReplicas> ProxyServer::readable_replicas() const {
  std::lock_guard<std::mutex> lock(topology_mu_);
  return readable_replicas_;
}

void ProxyServer::SetProxyList(std::shared_ptr<const ProxyList> list) {
  std::lock_guard<std::mutex> lock(proxy_list_mu_);
  proxy_list_ = std::move(list);
}

std::shared_ptr<const ProxyList> ProxyServer::proxy_list() const {
  std::lock_guard<std::mutex> lock(proxy_list_mu_);
  return proxy_list_;
}

void ProxyServer::EnableConfigServerLease(int64_t answered_sent_ms) {
  answered_sent_ms_.store(answered_sent_ms);
  lease_enabled_.store(true);
  CheckConfigServerLease();
}

void ProxyServer::RecordConfigServerAnswer(int64_t sent_ms) {
  int64_t seen = answered_sent_ms_.load();
  while (sent_ms > seen && !answered_sent_ms_.compare_exchange_weak(seen, sent_ms)) {
  }
  CheckConfigServerLease();
}

int64_t ProxyServer::MsSinceConfigServerAnswer() const {
  if (!lease_enabled_.load()) return -1;
  return EventLoop::MonotonicMs() - answered_sent_ms_.load();
}

void ProxyServer::CheckConfigServerLease() {
  if (!lease_enabled_.load() || options_.configserver_lease_ms <= 0) return;
  std::lock_guard lock(lease_mu_);
  const int64_t since = MsSinceConfigServerAnswer();
  const bool allowed = since <= options_.configserver_lease_ms;
  if (allowed == writes_allowed_.load()) return;
  writes_allowed_.store(allowed);
  if (allowed) {
    spdlog::info("a ConfigServer answered: writes are allowed again");
  } else {
    spdlog::error(
        "no ConfigServer answered a poll sent in the last {} ms (--configserver-lease-ms {}): "
        "refusing writes until one does; reads go on",
        since, options_.configserver_lease_ms);
  }
}

int ProxyServer::FencedShards() const {
  auto current = topology();
  int fenced = 0;
  if (current) {
    for (const auto& shard : current->shards()) fenced += shard.fenced ? 1 : 0;
  }
  return fenced;
}

void ProxyServer::Shutdown() {
  for (auto& w : workers_) w->RequestShutdown();
  for (auto& w : workers_) w->Join();
  workers_.clear();
}

}  // namespace redkube::proxy

namespace redkube::proxy {

BackendStats* ProxyServer::StatsForBackend(const std::string& address) {
  std::lock_guard lock(backend_stats_mu_);
  auto& stats = backend_stats_[address];
  if (!stats) stats = std::make_unique<BackendStats>();
  return stats.get();
}

bool ProxyServer::Ready() const {
  auto current = topology();
  if (!current || current->shards().empty()) return false;
  std::lock_guard lock(backend_stats_mu_);
  for (const auto& shard : current->shards()) {
    // A fenced master has no connection on purpose, for the few seconds of
    // a failover: the proxy still serves every other shard (and its reads).
    if (shard.fenced) continue;
    auto it = backend_stats_.find(shard.master.ToString());
    if (it == backend_stats_.end() || it->second->connections.load(std::memory_order_relaxed) <= 0)
      return false;
  }
  return true;
}

namespace {

struct CommandTotals {
  uint64_t calls = 0;
  uint64_t failed = 0;
  LatencyHistogram::Counts latency{};
  uint64_t latency_sum_us = 0;
};

std::vector<CommandTotals> SumCommands(const std::vector<std::unique_ptr<Worker>>& workers) {
  const auto specs = CommandIndex::Instance().specs();
  std::vector<CommandTotals> totals(specs.size());
  for (const auto& w : workers) {
    const CommandStats& stats = w->command_stats();
    for (size_t i = 0; i < specs.size(); ++i) {
      const CommandCounters& c = stats[static_cast<uint16_t>(i)];
      totals[i].calls += c.calls.load(std::memory_order_relaxed);
      totals[i].failed += c.failed.load(std::memory_order_relaxed);
      c.latency.AddTo(&totals[i].latency, &totals[i].latency_sum_us);
    }
  }
  return totals;
}

// "client|setname" -> "client|setname"; Prometheus label values need no more
// escaping for command names (lower-case letters, digits, '|', '-', '_').
void Metric(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A label value as Prometheus's text format wants it: backslash, double
// quote and newline escaped (the proxy's --id is the operator's to choose).
std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string_view("\\n") : std::string_view(&c, 1);
  }
  return out;
}

}  // namespace

std::string ProxyServer::RenderMetrics() const {
  std::string out;
  const ProxyStats& s = stats_;
  auto gauge = [&](std::string_view name, std::string_view help, auto value) {
    Metric(&out, name, "gauge", help);
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  };
  auto counter = [&](std::string_view name, std::string_view help, auto value) {
    Metric(&out, name, "counter", help);
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  };
  auto current = topology();
  gauge("redkube_proxy_connected_clients", "client connections open", s.connected_clients.load());
  counter("redkube_proxy_connections_total", "client connections accepted", s.total_connections.load());
  counter("redkube_proxy_rejected_connections_total", "client connections refused (max clients)",
          s.rejected_connections.load());
  counter("redkube_proxy_commands_total", "requests processed", s.total_commands.load());
  counter("redkube_proxy_protocol_errors_total", "clients closed for malformed input",
          s.protocol_errors.load());
  counter("redkube_proxy_client_bytes_in_total", "bytes read from clients", s.bytes_in.load());
  counter("redkube_proxy_client_bytes_out_total", "bytes written to clients", s.bytes_out.load());
  counter("redkube_proxy_output_limit_disconnects_total", "clients closed for not reading their replies",
          s.output_limit_disconnects.load());
  counter("redkube_proxy_idle_disconnects_total", "clients closed after the idle timeout",
          s.idle_disconnects.load());
  counter("redkube_proxy_subscriptions_restored_total",
          "a client's subscriptions on one shard made again after their server connection was lost",
          s.subscriptions_restored.load());
  counter("redkube_proxy_scans_restarted_total",
          "SCAN cursors issued under another shard layout, walked again from the first shard",
          s.scans_restarted.load());
  counter("redkube_proxy_slow_requests_total", "requests logged in SLOWLOG (slower than the threshold)",
          slow_log_.total());
  gauge("redkube_proxy_topology_epoch", "epoch of the topology in use", current ? current->epoch() : 0);
  gauge("redkube_proxy_applied_epoch",
        "topology epoch every worker thread has applied (what the proxy reports to the ConfigServer)",
        AppliedEpoch());
  Metric(&out, "redkube_proxy_info", "gauge", "the proxy's identity (--id), as a label");
  fmt::format_to(std::back_inserter(out), "redkube_proxy_info{{id=\"{}\"}} 1\n", LabelValue(options_.id));
  gauge("redkube_proxy_shards", "shards in the topology in use", current ? current->shards().size() : 0);
  gauge("redkube_proxy_readable_replicas", "replicas in sync that reads may go to (--read-from)",
        readable_replicas()->pairs.size());
  gauge("redkube_proxy_ready", "1 when every shard's master has a connection up", Ready() ? 1 : 0);
  gauge("redkube_proxy_writes_allowed",
        "0 while writes are refused: no ConfigServer answered within the lease (--configserver-lease-ms)",
        writes_allowed() ? 1 : 0);
  gauge("redkube_proxy_configserver_last_answer_ms",
        "milliseconds since the send time of the last ConfigServer poll that succeeded (-1: no ConfigServer)",
        MsSinceConfigServerAnswer());
  gauge("redkube_proxy_fenced_shards", "shards of the topology fenced (a failover under way)",
        FencedShards());
  gauge("redkube_proxy_unreachable_masters", "masters of the topology the proxy's last check did not reach",
        unreachable_masters());

  const auto specs = CommandIndex::Instance().specs();
  const auto totals = SumCommands(workers_);
  Metric(&out, "redkube_proxy_command_calls_total", "counter", "requests per command");
  for (size_t i = 0; i < specs.size(); ++i) {
    if (totals[i].calls == 0) continue;
    fmt::format_to(std::back_inserter(out), "redkube_proxy_command_calls_total{{command=\"{}\"}} {}\n",
                   specs[i]->name, totals[i].calls);
  }
  Metric(&out, "redkube_proxy_command_errors_total", "counter",
         "requests per command answered with an error");
  for (size_t i = 0; i < specs.size(); ++i) {
    if (totals[i].calls == 0) continue;
    fmt::format_to(std::back_inserter(out), "redkube_proxy_command_errors_total{{command=\"{}\"}} {}\n",
                   specs[i]->name, totals[i].failed);
  }
  Metric(&out, "redkube_proxy_command_duration_seconds", "histogram",
         "request parsed -> reply queued, for requests answered by servers");
  for (size_t i = 0; i < specs.size(); ++i) {
    uint64_t count = 0;
    for (uint64_t c : totals[i].latency) count += c;
    if (count == 0) continue;
    LatencyHistogram::Render(&out, "redkube_proxy_command_duration_seconds",
                             fmt::format("command=\"{}\"", specs[i]->name), totals[i].latency,
                             totals[i].latency_sum_us);
  }

  std::lock_guard lock(backend_stats_mu_);
  Metric(&out, "redkube_proxy_backend_connections", "gauge", "shared connections up, per server");
  for (const auto& [address, b] : backend_stats_) {
    fmt::format_to(std::back_inserter(out), "redkube_proxy_backend_connections{{backend=\"{}\"}} {}\n",
                   address, b->connections.load());
  }
  Metric(&out, "redkube_proxy_backend_failures_total", "counter", "connections to the server that failed");
  for (const auto& [address, b] : backend_stats_) {
    fmt::format_to(std::back_inserter(out), "redkube_proxy_backend_failures_total{{backend=\"{}\"}} {}\n",
                   address, b->failures.load());
  }
  Metric(&out, "redkube_proxy_backend_duration_seconds", "histogram",
         "request sent -> reply read, per server");
  for (const auto& [address, b] : backend_stats_) {
    LatencyHistogram::Counts counts{};
    uint64_t sum_us = 0;
    b->latency.AddTo(&counts, &sum_us);
    LatencyHistogram::Render(&out, "redkube_proxy_backend_duration_seconds",
                             fmt::format("backend=\"{}\"", address), counts, sum_us);
  }
  return out;
}

std::string ProxyServer::LatencystatsInfo() const {
  const auto specs = CommandIndex::Instance().specs();
  const auto totals = SumCommands(workers_);
  std::string out = "# Latencystats\r\n";
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& counts = totals[i].latency;
    uint64_t samples = 0;
    for (uint64_t c : counts) samples += c;
    if (samples == 0) continue;
    fmt::format_to(std::back_inserter(out),
                   "latency_percentiles_usec_{}:p50={:.3f},p99={:.3f},p99.9={:.3f}\r\n", specs[i]->name,
                   LatencyHistogram::Quantile(counts, 0.5), LatencyHistogram::Quantile(counts, 0.99),
                   LatencyHistogram::Quantile(counts, 0.999));
  }
  return out + "\r\n";
}

std::string ProxyServer::CommandstatsInfo() const {
  const auto specs = CommandIndex::Instance().specs();
  const auto totals = SumCommands(workers_);
  std::string out = "# Commandstats\r\n";
  for (size_t i = 0; i < specs.size(); ++i) {
    const CommandTotals& t = totals[i];
    if (t.calls == 0) continue;
    uint64_t timed = 0;
    for (uint64_t c : t.latency) timed += c;
    fmt::format_to(std::back_inserter(out),
                   "cmdstat_{}:calls={},usec={},usec_per_call={:.2f},rejected_calls=0,failed_calls={}\r\n",
                   specs[i]->name, t.calls, t.latency_sum_us,
                   timed ? static_cast<double>(t.latency_sum_us) / static_cast<double>(timed) : 0.0,
                   t.failed);
  }
  return out + "\r\n";
}

}  // namespace redkube::proxy
