#include "runtime/server_start.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using Role = ServerStartDecision::Role;
namespace fs = std::filesystem;

ServerStartDecision Master(std::string reason) {
  return ServerStartDecision{.role = Role::kMaster, .master = std::nullopt, .reason = std::move(reason)};
}

// "value" with \ and " escaped: Redis reads config lines with sdssplitargs.
std::string Quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

ServerStartDecision DecideServerStart(const ServerStartInput& in) {
  if (!in.shard) return Master("no record of the shard: a new shard, registered later");
  const ShardView& shard = *in.shard;
  if (shard.master.empty()) return Master("the shard has no master yet: registration sets up replication");
  const bool is_self = shard.master == in.current || (in.previous && shard.master == *in.previous);
  if (!is_self) {
    auto master = ParseHostPort(shard.master);
    if (!master.ok()) return Master("the recorded master " + shard.master + " is not host:port");
    return ServerStartDecision{
        .role = Role::kReplica, .master = master.value(), .reason = "the shard's master is " + shard.master};
  }
  bool others = false;
  for (const auto& n : shard.nodes) {
    if (n.address != in.current && (!in.previous || n.address != *in.previous)) others = true;
  }
  if (!others) return Master("it is the shard's only node");
  if (in.failover_wait_over) {
    return Master("it was the shard's master and no failover came; starting as it was");
  }
  return ServerStartDecision{.role = Role::kWaitForFailover,
                             .master = std::nullopt,
                             .reason = "it was the shard's master (" + shard.master +
                                       "): waiting for the ConfigServer to fail the shard over"};
}

ServerStartDecision DecideWithConfigServer(ConfigServerApi& configserver, const std::string& cluster,
                                           const std::string& shard,
                                           const std::optional<std::string>& previous,
                                           const std::string& current,
                                           std::chrono::milliseconds failover_wait,
                                           const std::atomic<bool>* stop, std::chrono::milliseconds poll) {
  const auto deadline = Clock::now() + failover_wait;
  for (;;) {
    const bool over = Clock::now() >= deadline || (stop != nullptr && *stop);
    ServerStartInput input{.shard = std::nullopt, .previous = previous, .current = current};
    auto found = configserver.FindCluster(cluster);
    if (!found.ok() && !over) {
      // No answer is not "no record": the ConfigServers may be changing
      // leader while this member was the master. Ask again within the wait.
      std::this_thread::sleep_for(poll);
      continue;
    }
    if (found.ok() && found.value()) {
      if (const ShardView* s = found.value()->Shard(shard)) input.shard = *s;
    }
    input.failover_wait_over = over;
    ServerStartDecision decision = DecideServerStart(input);
    if (!found.ok()) {
      decision.reason += " (" + found.error() + ")";
      decision.unanswered = true;
    }
    if (decision.role != Role::kWaitForFailover) return decision;
    std::this_thread::sleep_for(poll);
  }
}

std::string RenderServerConfig(const ServerConfig& c) {
  std::ostringstream out;
  out << "# Written by redkube's server start step; rewritten at every start.\n";
  if (!c.include.empty()) out << "include " << Quoted(c.include) << "\n";
  out << "bind " << c.bind << "\n"
      << "port " << c.port << "\n"
      << "dir " << Quoted(c.dir) << "\n"
      << "daemonize no\n"
      << "logfile \"\"\n";
  if (!c.password.empty()) {
    out << "requirepass " << Quoted(c.password) << "\n"
        << "masterauth " << Quoted(c.password) << "\n";
  }
  out << "appendonly yes\n"
      << "appendfsync everysec\n"
      << "save \"\"\n"
      << "repl-diskless-sync-delay 0\n";
  if (c.replica_of) out << "replicaof " << c.replica_of->host << " " << c.replica_of->port << "\n";
  return out.str();
}

Status WritePrivateFile(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Status::Error("cannot write " + tmp);
    out << content;
    if (!out.flush()) return Status::Error("cannot write " + tmp);
  }
  chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Error("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

std::string MemberFilePath(const std::string& dir) { return dir + "/redkube-member.json"; }

std::optional<std::string> ReadPreviousAddress(const std::string& dir) {
  std::ifstream in(MemberFilePath(dir));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (!doc.is_object() || !doc.contains("address") || !doc["address"].is_string()) return std::nullopt;
  std::string address = doc["address"].get<std::string>();
  if (address.empty()) return std::nullopt;
  return address;
}

Status WritePreviousAddress(const std::string& dir, const std::string& address) {
  return WritePrivateFile(MemberFilePath(dir), nlohmann::json{{"address", address}}.dump() + "\n");
}

}  // namespace redkube::runtime
