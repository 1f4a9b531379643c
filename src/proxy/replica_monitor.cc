#include "proxy/replica_monitor.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/socket_address.h"
#include "core/strings.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {
namespace {

// "ip=127.0.0.1,port=7001,state=online,offset=123,lag=0" -> its fields.
std::map<std::string, std::string, std::less<>> SlaveFields(std::string_view value) {
  std::map<std::string, std::string, std::less<>> fields;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) fields.emplace(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return fields;
}

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ParseInt(std::string_view s, int64_t* v) {
  auto parsed = ParseInt64(s);
  if (parsed) *v = *parsed;
  return parsed.has_value();
}

}  // namespace

void OffsetHistory::Record(int64_t now_ms, int64_t master_offset) {
  samples_.emplace_back(now_ms, master_offset);
  while (samples_.size() > 1 && samples_.front().first < now_ms - window_ms_) samples_.pop_front();
}

int64_t OffsetHistory::DataLagMs(int64_t replica_offset, int64_t now_ms) const {
  if (samples_.empty()) return window_ms_;
  if (replica_offset >= samples_.back().second) return 0;
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (it->second <= replica_offset) return now_ms - it->first;
  }
  return std::max(window_ms_, now_ms - samples_.front().first);
}

std::vector<size_t> ReplicasInSync(std::string_view master_info,
                                   const std::vector<std::pair<std::string, uint16_t>>& replica_ips,
                                   int max_lag_s, const OffsetHistory& history, int64_t now_ms) {
  std::vector<size_t> in_sync;
  for (const auto& [key, value] : ParseInfoFields(master_info)) {
    if (key.size() < 6 || key.compare(0, 5, "slave") != 0) continue;  // slave0, slave1, ...
    auto fields = SlaveFields(value);
    int64_t port = 0, lag = 0, offset = 0;
    if (fields["state"] != "online" || !ParseInt(fields["port"], &port) || !ParseInt(fields["lag"], &lag) ||
        !ParseInt(fields["offset"], &offset)) {
      continue;
    }
    if (lag > max_lag_s || history.DataLagMs(offset, now_ms) > int64_t{max_lag_s} * 1000) continue;
    for (size_t i = 0; i < replica_ips.size(); ++i) {
      if (replica_ips[i].first == fields["ip"] && replica_ips[i].second == port) in_sync.push_back(i);
    }
  }
  return in_sync;
}

ReplicaMonitor::ReplicaMonitor(ProxyServer* server, std::string password, int interval_ms, int max_lag_s)
    : server_(server),
      password_(std::move(password)),
      max_lag_s_(max_lag_s),
      checker_("proxy-replicas", std::chrono::milliseconds(interval_ms), [this] { CheckOnce(); }) {}

ReplicaMonitor::~ReplicaMonitor() { Stop(); }

void ReplicaMonitor::Start() { checker_.Start(); }

void ReplicaMonitor::Stop() { checker_.Stop(); }

std::string ReplicaMonitor::MasterInfo(const HostPort& master) {
  auto& client = clients_[master.ToString()];
  if (!client) {
    // Bounded well below the interval's multiples: a hung master delays
    // this thread only, never a request.
    client = std::make_unique<RedisClient>(master, password_, std::chrono::milliseconds(500));
  }
  auto reply = client->Command({"INFO", "replication"});
  if (!reply.ok() || reply.value().type != RedisReply::Type::kBulk) return {};
  return reply.value().str;
}

void ReplicaMonitor::CheckOnce() {
  auto topology = server_->topology();
  auto result = std::make_shared<ReadableReplicas>();
  std::set<std::string> masters;
  for (const auto& shard : topology->shards()) {
    masters.insert(shard.master.ToString());
    if (shard.replicas.empty()) continue;
    std::string info = MasterInfo(shard.master);
    if (info.empty()) continue;  // lag unknown: none of its replicas is vouched for
    int64_t master_offset = 0;
    if (!ParseInt(InfoField(info, "master_repl_offset"), &master_offset)) continue;
    const int64_t now_ms = SteadyNowMs();
    // Kept a second longer than the bound, so that a lag just over it shows.
    const int64_t window_ms = int64_t{max_lag_s_} * 1000 + 1000;
    auto& history = histories_.try_emplace(shard.master.ToString(), window_ms).first->second;
    history.Record(now_ms, master_offset);
    std::vector<std::pair<std::string, uint16_t>> ips;
    for (const auto& r : shard.replicas) {
      auto addr = ResolveIPv4(r);
      char ip[INET_ADDRSTRLEN] = "";
      if (addr.ok()) inet_ntop(AF_INET, &addr.value().sin_addr, ip, sizeof(ip));
      ips.emplace_back(ip, r.port);
    }
    for (size_t i : ReplicasInSync(info, ips, max_lag_s_, history, now_ms)) {
      result->pairs.insert(ReadableReplicas::Key(shard.master, shard.replicas[i]));
    }
  }
  // What is kept for servers that are no longer masters goes.
  std::erase_if(clients_, [&](const auto& entry) { return !masters.count(entry.first); });
  std::erase_if(histories_, [&](const auto& entry) { return !masters.count(entry.first); });
  for (const auto& pair : result->pairs) {
    if (!readable_.count(pair)) spdlog::info("replica reads: {} (master|replica) readable", pair);
  }
  for (const auto& pair : readable_) {
    if (!result->pairs.count(pair)) {
      spdlog::warn("replica reads: {} (master|replica) skipped: down, lagging or unverifiable", pair);
    }
  }
  if (result->pairs == readable_) return;
  readable_ = result->pairs;
  server_->SetReadableReplicas(std::move(result));
}

}  // namespace redkube::proxy
