#include "configserver/cluster_store.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

namespace redkube::configserver {
namespace {

// Retries of a mutation that lost a compare-and-swap race.
constexpr int kMaxAttempts = 16;

std::string KeyOf(const std::string& name) { return std::string(ClusterStore::kPrefix) + name; }

}  // namespace

ClusterStore::ClusterStore(const EtcdClient* etcd) : etcd_(etcd), watch_(etcd) {}

ClusterStore::~ClusterStore() { Stop(); }

void ClusterStore::Start(std::chrono::milliseconds refresh_every, std::chrono::milliseconds fresh_for) {
  if (refresher_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh_for_ = fresh_for;
  }
  Refresh();
  watcher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-watch");
    WatchLoop();
  });
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
  stop_cv_.notify_all();
  watch_.Close();  // ends the stream in flight now
  if (watcher_.joinable()) watcher_.join();
  if (refresher_) refresher_->Stop();
}

void ClusterStore::Contacted(Clock::time_point when) {
  if (!last_contact_ || *last_contact_ < when) last_contact_ = when;
}

bool ClusterStore::ApplyPut(const std::string& name, const ClusterRecord& record, int64_t mod_revision) {
  if (auto d = deleted_at_.find(name); d != deleted_at_.end()) {
    if (d->second >= mod_revision) return false;  // deleted after that write
    deleted_at_.erase(d);
  }
  auto it = cache_.find(name);
  if (it != cache_.end() && it->second.mod_revision >= mod_revision) return false;
  cache_[name] = Stored{record, mod_revision};
  changed_.notify_all();
  return true;
}

bool ClusterStore::ApplyDelete(const std::string& name, int64_t revision) {
  auto it = cache_.find(name);
  if (it != cache_.end() && it->second.mod_revision > revision) return false;  // written again since
  int64_t& deleted = deleted_at_[name];
  deleted = std::max(deleted, revision);
  if (it == cache_.end()) return false;
  cache_.erase(it);
  changed_.notify_all();
  return true;
}

int64_t ClusterStore::ApplySnapshot(const PrefixRange& range) {
  std::map<std::string, int64_t> present;
  int64_t newest = 0;
  for (const auto& kv : range.kvs) {
    auto record = ClusterRecord::FromJson(kv.value);
    if (!record.ok()) {
      spdlog::error("{}: {}", kv.key, record.error());
      continue;  // as if absent
    }
    std::string name = record->name;
    present[name] = kv.mod_revision;
    if (ApplyPut(name, record.value(), kv.mod_revision)) newest = std::max(newest, kv.mod_revision);
  }
  // Absent from the snapshot: deleted at a revision up to the snapshot's,
  // unless the cache holds a write newer than the snapshot.
  std::vector<std::pair<std::string, int64_t>> gone;
  for (const auto& [name, stored] : cache_) {
    if (!present.count(name) && stored.mod_revision <= range.revision) {
      gone.emplace_back(name, stored.mod_revision);
    }
  }
  for (const auto& [name, mod_revision] : gone) {
    // The delete's own revision is unknown; it is above the record's.
    if (ApplyDelete(name, range.revision)) newest = std::max(newest, mod_revision + 1);
  }
  return newest;
}

Result<int64_t> ClusterStore::ReadAll(int64_t* newest) {
  // The cache is as fresh as the moment the read was sent, not answered.
  Clock::time_point sent = Clock::now();
  auto range = etcd_->ListPrefix(kPrefix);
  if (!range.ok()) return range.status();
  std::lock_guard<std::mutex> lock(mu_);
  Contacted(sent);
  int64_t brought = ApplySnapshot(range.value());
  if (newest != nullptr) *newest = brought;
  return range->revision;
}

Status ClusterStore::Refresh() {
  int64_t newest = 0;
  auto revision = ReadAll(&newest);
  bool stuck = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!revision.ok()) {
      if (!refresh_failing_) spdlog::warn("etcd unreachable, serving cached topology: {}", revision.error());
      refresh_failing_ = true;
      return revision.status();
    }
    if (refresh_failing_) spdlog::info("etcd reachable again");
    refresh_failing_ = false;
    // A change found here first is normal now and then (the watch event
    // was a millisecond behind); still undelivered a refresh later, it
    // never will be.
    stuck = ahead_of_watch_ > watch_revision_;
    ahead_of_watch_ = !stuck && newest > watch_revision_ ? newest : 0;
  }
  if (stuck) {
    spdlog::warn("etcd watch missed changes for a refresh interval; restarting it");
    watch_.Interrupt();
  }
  return Status::Ok();
}

void ClusterStore::WatchLoop() {
  // Between attempts after a failure, so that an etcd that is down is not
  // asked in a tight loop.
  constexpr auto kPause = std::chrono::milliseconds(200);
  const size_t prefix_length = std::string_view(kPrefix).size();
  bool failing = false;
  bool compacted_before = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    Status outcome = Status::Ok();
    auto revision = ReadAll();
    if (revision.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        watch_revision_ = std::max(watch_revision_, revision.value());
        ++watches_started_;
      }
      const int64_t from = revision.value() + 1;
      outcome = watch_.Run(
          kPrefix, from,
          [&](const EtcdEvent& event) {
            if (event.kv.key.size() <= prefix_length) return true;
            std::string name = event.kv.key.substr(prefix_length);
            std::lock_guard<std::mutex> lock(mu_);
            ++watch_events_;
            watch_revision_ = std::max(watch_revision_, event.kv.mod_revision);
            if (event.type == EtcdEvent::Type::kDelete) {
              ApplyDelete(name, event.kv.mod_revision);
              return true;
            }
            auto record = ClusterRecord::FromJson(event.kv.value);
            if (!record.ok()) {
              spdlog::error("{}: {}", event.kv.key, record.error());
              ApplyDelete(name, event.kv.mod_revision);  // as a full read would: absent
              return true;
            }
            ApplyPut(record->name, record.value(), event.kv.mod_revision);
            return true;
          },
          [&] {
            if (failing) spdlog::info("watching etcd again from revision {}", from);
            failing = false;
            std::lock_guard<std::mutex> lock(mu_);
            Contacted(Clock::now());
          });
    } else {
      outcome = revision.status();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      // Compacted: read everything again at once (but not twice running).
      bool compacted = outcome.code() == EtcdWatch::kCompacted;
      if (!compacted || compacted_before) {
        if (!failing) spdlog::warn("etcd watch ended, resuming after a full read: {}", outcome.message());
        failing = true;
        stop_cv_.wait_for(lock, kPause, [this] { return stopping_; });
      }
      compacted_before = compacted;
    }
  }
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
  Stored& read = std::get<Stored>(stored);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ApplyPut(name, read.record, read.mod_revision);
  }
  return std::move(read.record);
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
    int64_t written_at = 0;
    auto written = etcd_->WriteIf(compares, KeyOf(name), updated.ToJson(), 0, &written_at);
    if (!written.ok()) return StoreError{503, written.error()};
    if (written.value()) {
      std::lock_guard<std::mutex> lock(mu_);
      ApplyPut(name, updated, written_at);
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
  int64_t written_at = 0;
  auto written = etcd_->PutIfRevision(KeyOf(record.name), record.ToJson(), 0, 0, &written_at);
  if (!written.ok()) return StoreError{503, written.error()};
  if (!written.value()) return StoreError{409, "cluster " + record.name + " already exists"};
  std::lock_guard<std::mutex> lock(mu_);
  ApplyPut(record.name, record, written_at);
  return std::nullopt;
}

std::optional<StoreError> ClusterStore::Delete(const std::string& name) {
  auto current = etcd_->Get(KeyOf(name));
  if (!current.ok()) return StoreError{503, current.error()};
  if (!current.value()) return StoreError{404, "no cluster named " + name};
  EtcdCompare same{EtcdCompare::Kind::kModRevision, KeyOf(name), current.value()->mod_revision, {}};
  int64_t deleted_at = 0;
  auto deleted = etcd_->WriteIf({same}, KeyOf(name), std::nullopt, 0, &deleted_at);
  if (!deleted.ok()) return StoreError{503, deleted.error()};
  if (!deleted.value()) return StoreError{409, "cluster " + name + " changed meanwhile; retry"};
  std::lock_guard<std::mutex> lock(mu_);
  ApplyDelete(name, deleted_at);
  return std::nullopt;
}

std::optional<ClusterRecord> ClusterStore::Cached(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(name);
  if (it == cache_.end()) return std::nullopt;
  return it->second.record;
}

std::vector<ClusterRecord> ClusterStore::CachedAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ClusterRecord> out;
  for (const auto& [name, stored] : cache_) out.push_back(stored.record);
  return out;
}

bool ClusterStore::CacheFresh() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_contact_ && Clock::now() - *last_contact_ < fresh_for_;
}

std::optional<std::chrono::milliseconds> ClusterStore::SinceContact() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!last_contact_) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *last_contact_);
}

uint64_t ClusterStore::watch_events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watch_events_;
}

uint64_t ClusterStore::watches_started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watches_started_;
}

std::optional<ClusterRecord> ClusterStore::WaitForEpoch(const std::string& name, uint64_t after,
                                                        std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  auto newer = [&] {
    auto it = cache_.find(name);
    return it != cache_.end() && it->second.record.Complete() && it->second.record.epoch > after;
  };
  changed_.wait_for(lock, timeout, [&] { return stopping_ || newer(); });
  if (!newer()) return std::nullopt;
  return cache_.at(name).record;
}

}  // namespace redkube::configserver
