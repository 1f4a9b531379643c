#include "configserver/cluster_store.h"

#include <spdlog/spdlog.h>

namespace redkube::configserver {
namespace {

// Retries of a mutation that lost a compare-and-swap race.
constexpr int kMaxAttempts = 16;

std::string KeyOf(const std::string& name) { return std::string(ClusterStore::kPrefix) + name; }

}  // namespace

ClusterStore::ClusterStore(const EtcdClient* etcd) : etcd_(etcd) {}

ClusterStore::~ClusterStore() { Stop(); }

void ClusterStore::Start(std::chrono::milliseconds refresh_every) {
  if (refresher_) return;
  Refresh();
  refresher_ = std::make_unique<PeriodicThread>(
      "store-refresh", refresh_every, [this] { Refresh(); }, PeriodicThread::FirstRun::kAfterInterval);
  refresher_->Start();
}

void ClusterStore::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (refresher_) refresher_->Stop();
}

Status ClusterStore::Refresh() {
  uint64_t started_at_write;
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_at_write = local_writes_;
  }
  auto kvs = etcd_->GetPrefix(kPrefix);
  std::lock_guard<std::mutex> lock(mu_);
  if (!kvs.ok()) {
    if (cache_fresh_) spdlog::warn("etcd unreachable, serving cached topology: {}", kvs.error());
    cache_fresh_ = false;
    return kvs.status();
  }
  std::map<std::string, ClusterRecord> fresh;
  for (const auto& kv : kvs.value()) {
    auto record = ClusterRecord::FromJson(kv.value);
    if (!record.ok()) {
      spdlog::error("{}: {}", kv.key, record.error());
      continue;
    }
    fresh[record->name] = std::move(record.value());
  }
  // A record this instance wrote (or deleted) while etcd was being read is
  // newer than what the read saw: keep it, or a GET right after a PUT could
  // answer with the record from before it.
  for (auto it = written_at_.begin(); it != written_at_.end();) {
    const auto& [name, written_at] = *it;
    if (written_at <= started_at_write) {  // this read saw that write
      it = written_at_.erase(it);
      continue;
    }
    fresh.erase(name);
    if (auto cached = cache_.find(name); cached != cache_.end()) fresh.emplace(name, cached->second);
    ++it;
  }
  bool moved = fresh.size() != cache_.size();
  for (const auto& [name, record] : fresh) {
    auto it = cache_.find(name);
    if (it == cache_.end() || it->second.ToJson() != record.ToJson()) moved = true;
  }
  cache_ = std::move(fresh);
  cache_fresh_ = true;
  if (moved) changed_.notify_all();
  return Status::Ok();
}

void ClusterStore::CacheRecord(const ClusterRecord& record, bool written) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_[record.name] = record;
  if (written) written_at_[record.name] = ++local_writes_;
  changed_.notify_all();
}

std::variant<ClusterStore::Stored, StoreError> ClusterStore::Read(const std::string& name) const {
  auto current = etcd_->Get(KeyOf(name));
  if (!current.ok()) return StoreError{503, current.error()};
  if (!current.value()) return StoreError{404, "no cluster named " + name};
  auto record = ClusterRecord::FromJson(current.value()->value);
  if (!record.ok()) return StoreError{500, record.error()};
  return Stored{std::move(record.value()), current.value()->mod_revision};
}

std::variant<ClusterRecord, StoreError> ClusterStore::Load(const std::string& name) {
  auto stored = Read(name);
  if (auto* e = std::get_if<StoreError>(&stored)) return *e;
  ClusterRecord& record = std::get<Stored>(stored).record;
  CacheRecord(record, /*written=*/false);
  return std::move(record);
}

std::variant<ClusterRecord, StoreError> ClusterStore::Update(const std::string& name, const Mutation& mutate,
                                                             const std::optional<EtcdCompare>& guard) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto stored = Read(name);
    if (auto* e = std::get_if<StoreError>(&stored)) return *e;
    const auto& [record, revision] = std::get<Stored>(stored);
    ClusterRecord updated = record;
    if (auto refused = mutate(&updated)) return *refused;
    if (updated.ToJson() == record.ToJson()) return updated;  // nothing to write
    if (PublishedTopologyDiffers(record, updated)) updated.epoch = record.epoch + 1;
    std::vector<EtcdCompare> compares = {{EtcdCompare::Kind::kModRevision, KeyOf(name), revision, {}}};
    if (guard) compares.push_back(*guard);
    auto written = etcd_->WriteIf(compares, KeyOf(name), updated.ToJson());
    if (!written.ok()) return StoreError{503, written.error()};
    if (written.value()) {
      CacheRecord(updated);
      return updated;
    }
    if (guard) {
      // The revision or the guard failed; with a guard we must know which.
      auto held = etcd_->Get(guard->key);
      if (!held.ok()) return StoreError{503, held.error()};
      if (!held.value() || held.value()->value != guard->value) {
        return StoreError{409, "no longer the leader"};
      }
    }
  }
  return StoreError{503, "too many concurrent updates of cluster " + name};
}

std::optional<StoreError> ClusterStore::Create(const ClusterRecord& record) {
  auto written = etcd_->PutIfRevision(KeyOf(record.name), record.ToJson(), 0);
  if (!written.ok()) return StoreError{503, written.error()};
  if (!written.value()) return StoreError{409, "cluster " + record.name + " already exists"};
  CacheRecord(record);
  return std::nullopt;
}

std::optional<StoreError> ClusterStore::Delete(const std::string& name) {
  auto current = etcd_->Get(KeyOf(name));
  if (!current.ok()) return StoreError{503, current.error()};
  if (!current.value()) return StoreError{404, "no cluster named " + name};
  EtcdCompare same{EtcdCompare::Kind::kModRevision, KeyOf(name), current.value()->mod_revision, {}};
  auto deleted = etcd_->WriteIf({same}, KeyOf(name), std::nullopt);
  if (!deleted.ok()) return StoreError{503, deleted.error()};
  if (!deleted.value()) return StoreError{409, "cluster " + name + " changed meanwhile; retry"};
  std::lock_guard<std::mutex> lock(mu_);
  cache_.erase(name);
  written_at_[name] = ++local_writes_;
  changed_.notify_all();
  return std::nullopt;
}

std::optional<ClusterRecord> ClusterStore::Cached(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(name);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<ClusterRecord> ClusterStore::CachedAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ClusterRecord> out;
  for (const auto& [name, record] : cache_) out.push_back(record);
  return out;
}

bool ClusterStore::CacheFresh() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_fresh_;
}

std::optional<ClusterRecord> ClusterStore::WaitForEpoch(const std::string& name, uint64_t after,
                                                        std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto newer = [&] {
    auto it = cache_.find(name);
    return it != cache_.end() && it->second.Complete() && it->second.epoch > after;
  };
  changed_.wait_for(lock, timeout, [&] { return stopping_ || newer(); });
  if (!newer()) return std::nullopt;
  return cache_.at(name);
}

}  // namespace redkube::configserver
