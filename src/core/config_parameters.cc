#include "core/config_parameters.h"

#include <array>
#include <utility>

namespace redkube {
namespace {

constexpr std::string_view kPassword =
    "the servers' password is the platform's (the proxy and the ConfigServer log in with it); "
    "change it through redkube's secret, not on the servers";
constexpr std::string_view kFiles =
    "where a server keeps its data is chosen by the platform (its volume, found again on restart)";
constexpr std::string_view kReplication = "replication is managed by redkube's ConfigServer";
constexpr std::string_view kAddress =
    "a server's address is the one the platform registered, probes and routes to";
constexpr std::string_view kClusterMode =
    "redkube's servers run standalone: the proxy and the ConfigServer do the sharding";
constexpr std::string_view kPartitionSafety =
    "the ConfigServer sets it on every server itself for partition-safe failover (docs/configserver.md)";
constexpr std::string_view kFailureDetection =
    "the ConfigServer sets it on every server itself: its failure detection counts on the value";
constexpr std::string_view kReplicaReadOnly =
    "a replica that took writes would diverge from its master and lose them at the next failover";
constexpr std::string_view kProcess = "the server process is run and supervised by the platform";
constexpr std::string_view kSafety = "it concerns the servers' own safety and is kept as the platform set it";

// Exact names (aliases included: redis-server accepts both spellings).
constexpr std::array<std::pair<std::string_view, std::string_view>, 37> kRefused = {{
    {"requirepass", kPassword},
    {"masterauth", kPassword},
    {"masteruser", kPassword},
    {"aclfile", kPassword},
    {"dir", kFiles},
    {"dbfilename", kFiles},
    {"appendfilename", kFiles},
    {"appenddirname", kFiles},
    {"replicaof", kReplication},
    {"slaveof", kReplication},
    {"replica-announce-ip", kReplication},
    {"slave-announce-ip", kReplication},
    {"replica-announce-port", kReplication},
    {"slave-announce-port", kReplication},
    {"replica-read-only", kReplicaReadOnly},
    {"slave-read-only", kReplicaReadOnly},
    {"port", kAddress},
    {"tls-port", kAddress},
    {"bind", kAddress},
    {"bind-source-addr", kAddress},
    {"unixsocket", kAddress},
    {"unixsocketperm", kAddress},
    {"protected-mode", kAddress},
    {"min-replicas-to-write", kPartitionSafety},
    {"min-slaves-to-write", kPartitionSafety},
    {"min-replicas-max-lag", kPartitionSafety},
    {"min-slaves-max-lag", kPartitionSafety},
    {"repl-timeout", kFailureDetection},
    {"repl-ping-replica-period", kFailureDetection},
    {"repl-ping-slave-period", kFailureDetection},
    {"logfile", kProcess},
    {"pidfile", kProcess},
    {"daemonize", kProcess},
    {"supervised", kProcess},
    {"rename-command", kSafety},
    {"shutdown-on-sigterm", kProcess},
    {"shutdown-on-sigint", kProcess},
}};

// Prefixes: whole families.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kRefusedPrefixes = {{
    {"cluster-", kClusterMode},
    {"tls-", kAddress},    // certificates and keys: files the platform deploys
    {"enable-", kSafety},  // enable-debug-command, enable-module-command, enable-protected-configs
    {"syslog-", kProcess},
}};

// Not refused, but not alike on every server either.
constexpr std::array<std::string_view, 1> kDiffersToo = {"replica-priority"};

}  // namespace

std::optional<std::string_view> ConfigParameterRefusal(std::string_view name) {
  for (const auto& [refused, why] : kRefused) {
    if (name == refused) return why;
  }
  for (const auto& [prefix, why] : kRefusedPrefixes) {
    if (name.starts_with(prefix)) return why;
  }
  return std::nullopt;
}

bool ConfigParameterDiffersPerServer(std::string_view name) {
  if (ConfigParameterRefusal(name)) return true;
  for (std::string_view n : kDiffersToo) {
    if (name == n) return true;
  }
  return false;
}

std::optional<std::string> NormalizedConfigParameter(std::string_view name) {
  if (name.empty() || name.size() > 128) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return std::nullopt;
    out += c;
  }
  return out;
}

}  // namespace redkube
