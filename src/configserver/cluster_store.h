// Cluster records in etcd, with compare-and-swap updates and a local cache
// that long-polling readers wait on.
//
// The cache follows etcd with a watch: a full read, then every change from
// the revision after it, so a write by any ConfigServer instance reaches
// this one's long-polls within milliseconds. Every break of the watch
// (etcd restarted, a compaction, a stream error) is followed by a full read
// and a new watch. A full read every `refresh_every` besides is the
// liveness check of etcd (a watch is silent when nothing changes): the
// cache is fresh while the last successful contact with etcd (a read or a
// watch message) began less than `fresh_for` ago.
//
// Each cached record carries its etcd mod_revision, and a record is only
// ever replaced by a newer revision (a delete leaves its revision behind):
// a read that began before a write, this instance's own included, cannot
// put older data back, whichever of the watch, a refresh or a write lands
// last.
//
// Every change is Update(name, mutate): read the record and its
// mod_revision, apply `mutate` to a copy, move the epoch if the published
// topology changed, and write with a transaction that compares the revision
// (and, for the leader's automatic actions, that we still hold the leader
// key). A lost race re-reads and re-applies, so two writers never both win
// and a mutation sees the latest state. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "configserver/cluster_record.h"
#include "configserver/etcd_client.h"
#include "core/periodic_thread.h"

namespace redkube::configserver {

// A mutation's own refusal (bad request, conflict with the current state)
// carries an HTTP-like code so the API can answer 400/404/409 directly.
struct StoreError {
  int code = 500;
  std::string message;
};

class ClusterStore {
 public:
  static constexpr const char* kPrefix = "/redkube/clusters/";

  explicit ClusterStore(const EtcdClient* etcd);
  ~ClusterStore();

  // Reads every record now, then starts the watch that keeps the cache
  // current with writes made by other ConfigServer instances, and the full
  // read every `refresh_every` that checks etcd is alive. At most once.
  void Start(std::chrono::milliseconds refresh_every = std::chrono::milliseconds(1000),
             std::chrono::milliseconds fresh_for = std::chrono::milliseconds(1500));
  // Stops the watch (within milliseconds: its connection is shut down) and
  // the refresh, and releases every WaitForEpoch caller.
  void Stop();

  // Returns an error (code, message) when the mutation refuses, otherwise
  // the record as written. `guard` adds a condition to the transaction.
  using Mutation = std::function<std::optional<StoreError>(ClusterRecord*)>;
  std::variant<ClusterRecord, StoreError> Update(const std::string& name, const Mutation& mutate,
                                                 const std::optional<EtcdCompare>& guard = {});
  std::optional<StoreError> Create(const ClusterRecord& record);
  std::optional<StoreError> Delete(const std::string& name);

  // The record as etcd holds it now (and the cache with it).
  std::variant<ClusterRecord, StoreError> Load(const std::string& name);

  // From the cache (kept current by the watch, and on our own writes).
  std::optional<ClusterRecord> Cached(const std::string& name) const;
  std::vector<ClusterRecord> CachedAll() const;
  // Whether the last successful contact with etcd began less than
  // `fresh_for` ago: false within `fresh_for` of etcd ceasing to answer
  // (hung or gone), so a cache that may miss changes is not served as
  // current (proxies' write lease relies on it). False before Start.
  bool CacheFresh() const;
  // Since the last successful contact with etcd began; nullopt if none yet.
  std::optional<std::chrono::milliseconds> SinceContact() const;
  // Changes received through the watch, and watches started (the first and
  // every resumption after a break): for metrics and tests.
  uint64_t watch_events() const;
  uint64_t watches_started() const;

  // Waits until the named cluster is complete with an epoch above `after`,
  // or the timeout passes; returns the record then, nullopt on timeout.
  std::optional<ClusterRecord> WaitForEpoch(const std::string& name, uint64_t after,
                                            std::chrono::milliseconds timeout);

  // Re-reads every record from etcd into the cache now.
  Status Refresh();

 private:
  using Clock = std::chrono::steady_clock;
  struct Stored {
    ClusterRecord record;
    int64_t mod_revision = 0;
  };
  std::variant<Stored, StoreError> Read(const std::string& name) const;
  // A full read: applies it and returns the revision it was read at;
  // `newest`: the newest revision it brought into the cache (0: none).
  Result<int64_t> ReadAll(int64_t* newest = nullptr);
  void WatchLoop();
  void Contacted(Clock::time_point when);

  // Under mu_. Put and Delete return whether the cache changed (waiters
  // are woken); a record older than the cached one (or than its delete)
  // is ignored. Snapshot returns the newest revision it brought in (0:
  // none).
  bool ApplyPut(const std::string& name, const ClusterRecord& record, int64_t mod_revision);
  bool ApplyDelete(const std::string& name, int64_t revision);
  int64_t ApplySnapshot(const PrefixRange& range);

  const EtcdClient* etcd_;
  EtcdWatch watch_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Stored> cache_;
  // The revision of the last delete of each name the cache applied (kept
  // until the name is written again): an older read must not bring it back.
  std::map<std::string, int64_t> deleted_at_;
  std::optional<Clock::time_point> last_contact_;
  std::chrono::milliseconds fresh_for_{1500};
  // The revision up to which the watch has delivered every change (its
  // full read's, then each event's), and the newest change a refresh found
  // before the watch did: still undelivered at the next refresh, a second
  // later, means the watch is stuck (a connection gone silent), and it is
  // restarted.
  int64_t watch_revision_ = 0;
  int64_t ahead_of_watch_ = 0;
  bool refresh_failing_ = false;  // logged once per outage
  uint64_t watch_events_ = 0;
  uint64_t watches_started_ = 0;
  bool stopping_ = false;            // WaitForEpoch callers return at once; the watch loop ends
  std::condition_variable stop_cv_;  // wakes the watch loop's pause between attempts
  std::thread watcher_;
  // Made by Start (the interval is known only then); last, so that it stops
  // before the members a refresh uses go.
  std::unique_ptr<PeriodicThread> refresher_;
};

}  // namespace redkube::configserver
