#include "configserver/replication_control.h"

#include "core/strings.h"

namespace redkube::configserver {

ReplicationControl::ReplicationControl(std::string password, std::chrono::milliseconds timeout)
    : password_(std::move(password)), timeout_(timeout) {}

std::unique_ptr<RedisClient> ReplicationControl::Connect(const std::string& node) const {
  auto address = ParseHostPort(node);
  if (!address.ok()) return nullptr;
  return std::make_unique<RedisClient>(address.value(), password_, timeout_);
}

Result<RedisReply> ReplicationControl::Run(const std::string& node,
                                           const std::vector<std::string>& argv) const {
  auto client = Connect(node);
  if (!client) return Status::Error("bad address " + node);
  auto reply = client->Command(argv);
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) return Status::Error(node + " answered " + argv[0] + ": " + reply->str);
  return reply;
}

Result<NodeHealth> ReplicationControl::Probe(RedisClient* client) {
  auto reply = client->Command({"INFO", "replication"});
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kBulk) {
    return Status::Error(client->address().ToString() + ": INFO failed: " + reply->str);
  }
  NodeHealth h;
  h.reachable = true;
  std::string master_host, master_port;
  for (const auto& [key, value] : ParseInfoFields(reply->str)) {
    if (key == "role") {
      h.role = value;
    } else if (key == "master_host") {
      master_host = value;
    } else if (key == "master_port") {
      master_port = value;
    } else if (key == "master_link_status") {
      h.link_up = value == "up";
    } else if (key == "master_last_io_seconds_ago") {
      h.master_last_io_s = ParseInt64(value).value_or(-1);
    } else if (key == "master_link_down_since_seconds") {
      h.link_down_since_s = ParseInt64(value).value_or(-1);
    } else if ((key == "master_repl_offset" && h.role == "master") || key == "slave_repl_offset") {
      h.offset = ParseInt64(value).value_or(0);
    }
  }
  if (h.role == "slave") h.replicating_from = master_host + ":" + master_port;
  return h;
}

Result<NodeHealth> ReplicationControl::Probe(const std::string& node) const {
  auto client = Connect(node);
  if (!client) return Status::Error("bad address " + node);
  return Probe(client.get());
}

Status ReplicationControl::Follow(const std::string& node, const std::string& master) const {
  auto address = ParseHostPort(master);
  if (!address.ok()) return address.status();
  if (!password_.empty()) {
    auto set = Run(node, {"CONFIG", "SET", "masterauth", password_});
    if (!set.ok()) return set.status();
  }
  auto reply = Run(node, {"REPLICAOF", address->host, std::to_string(address->port)});
  return reply.ok() ? Status::Ok() : reply.status();
}

Status ReplicationControl::Promote(const std::string& node) const {
  // A new master has no replica in sync yet: it must not start refusing
  // writes for want of one (SetMinReplicas raises it once one is).
  if (Status s = SetMinReplicas(node, 0); !s.ok()) return s;
  auto reply = Run(node, {"REPLICAOF", "NO", "ONE"});
  return reply.ok() ? Status::Ok() : reply.status();
}

Status ReplicationControl::SetMinReplicas(const std::string& node, int replicas) const {
  auto reply = Run(node, {"CONFIG", "SET", "min-replicas-to-write", std::to_string(replicas),
                          "min-replicas-max-lag", std::to_string(kMinReplicasMaxLagS)});
  return reply.ok() ? Status::Ok() : reply.status();
}

Status ReplicationControl::ConfigureLinks(const std::string& node) const {
  auto reply = Run(node, {"CONFIG", "SET", "repl-ping-replica-period", std::to_string(kPingReplicaPeriodS),
                          "repl-timeout", std::to_string(kReplTimeoutS)});
  return reply.ok() ? Status::Ok() : reply.status();
}

Status ReplicationControl::StartFailover(const std::string& master, const std::string& target,
                                         std::chrono::milliseconds timeout) const {
  auto address = ParseHostPort(target);
  if (!address.ok()) return address.status();
  auto reply = Run(master, {"FAILOVER", "TO", address->host, std::to_string(address->port), "TIMEOUT",
                            std::to_string(timeout.count())});
  return reply.ok() ? Status::Ok() : reply.status();
}

Status ReplicationControl::AbortFailover(const std::string& master) const {
  auto reply = Run(master, {"FAILOVER", "ABORT"});
  return reply.ok() ? Status::Ok() : reply.status();
}

}  // namespace redkube::configserver
