#include "proxy/master_witness.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/event_loop.h"
#include "proxy/proxy_server.h"

namespace redkube::proxy {

MasterWitness::MasterWitness(ProxyServer* server, std::string password)
    : server_(server),
      password_(std::move(password)),
      control_("proxy-witness", std::chrono::milliseconds(100), [this] { Control(); }) {}

MasterWitness::~MasterWitness() { Stop(); }

void MasterWitness::Start() { control_.Start(); }

void MasterWitness::Stop() {
  control_.Stop();
  std::map<std::string, std::unique_ptr<Probe>> probes;
  {
    std::lock_guard lock(mu_);
    probes.swap(probes_);
  }
  // Outside mu_: a check under way takes it to record its result.
  for (auto& [address, probe] : probes) probe->thread->Stop();
}

void MasterWitness::Control() {
  if (server_ == nullptr) return;
  std::set<std::string> masters;
  if (auto topology = server_->topology()) {
    for (const auto& shard : topology->shards()) masters.insert(shard.master.ToString());
  }
  SetMasters(masters);
  server_->SetUnreachableMasters(static_cast<int>(UnreachableMasters().size()));
  server_->CheckConfigServerLease();
}

void MasterWitness::SetMasters(const std::set<std::string>& masters) {
  std::vector<std::unique_ptr<Probe>> gone;
  std::vector<Probe*> added;
  {
    std::lock_guard lock(mu_);
    for (auto it = probes_.begin(); it != probes_.end();) {
      if (masters.count(it->first)) {
        ++it;
        continue;
      }
      gone.push_back(std::move(it->second));
      it = probes_.erase(it);
    }
    for (const auto& address : masters) {
      if (probes_.count(address)) continue;
      auto parsed = ParseHostPort(address);
      if (!parsed.ok()) continue;
      auto probe = std::make_unique<Probe>();
      probe->address = parsed.value();
      probe->watched_since_ms = EventLoop::MonotonicMs();
      probe->client = std::make_unique<RedisClient>(
          probe->address, password_, std::chrono::duration_cast<std::chrono::milliseconds>(kCheckTimeout));
      Probe* raw = probe.get();
      probe->thread = std::make_unique<PeriodicThread>(
          "proxy-witness-m", std::chrono::duration_cast<std::chrono::milliseconds>(kCheckEvery),
          [this, raw] { Check(raw); });
      added.push_back(raw);
      probes_.emplace(address, std::move(probe));
    }
  }
  for (Probe* probe : added) probe->thread->Start();
  for (auto& probe : gone) probe->thread->Stop();  // outside mu_, as in Stop()
  if (!gone.empty()) Check(nullptr);
}

void MasterWitness::Check(Probe* probe) {
  if (probe != nullptr) {
    const bool reached = probe->client->Command({"PING"}).ok();
    std::lock_guard lock(mu_);
    if (reached) probe->last_reached_ms = EventLoop::MonotonicMs();
    const bool was_failed = probe->failed;
    probe->failed = !reached;
    if (was_failed && reached) {
      spdlog::info("master {} is reachable again", probe->address.ToString());
    } else if (!was_failed && !reached) {
      spdlog::warn("master {} did not answer PING within {} ms", probe->address.ToString(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(kCheckTimeout).count());
    }
  }
  std::lock_guard change(change_mu_);
  std::set<std::string> now;
  {
    std::lock_guard lock(mu_);
    now = UnreachableSetLocked();
  }
  if (now == reported_) return;
  reported_ = std::move(now);
  if (on_change_) on_change_();
}

std::set<std::string> MasterWitness::UnreachableSetLocked() const {
  std::set<std::string> out;
  for (const auto& [address, probe] : probes_) {
    if (probe->failed) out.insert(address);
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> MasterWitness::UnreachableMasters() const {
  const int64_t now = EventLoop::MonotonicMs();
  std::vector<std::pair<std::string, int64_t>> out;
  std::lock_guard lock(mu_);
  for (const auto& [address, probe] : probes_) {
    if (!probe->failed) continue;
    const int64_t since = probe->last_reached_ms > 0 ? probe->last_reached_ms : probe->watched_since_ms;
    out.emplace_back(address, now - since);
  }
  return out;
}

std::string MasterWitness::UnreachableReport() const {
  std::string out;
  for (const auto& [address, ms] : UnreachableMasters()) {
    if (!out.empty()) out += ',';
    fmt::format_to(std::back_inserter(out), "{}~{}", address, ms);
  }
  return out;
}

}  // namespace redkube::proxy
