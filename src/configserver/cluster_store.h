// Cluster records in etcd, with compare-and-swap updates and a local cache
// that long-polling readers wait on.
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

  // Refreshes the cache now, then starts the background refresh that keeps
  // it current with writes made by other ConfigServer instances. At most
  // once.
  void Start(std::chrono::milliseconds refresh_every);
  // Stops the refresh and releases every WaitForEpoch caller.
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

  // From the cache (refreshed every `refresh_every`, and on our own writes).
  std::optional<ClusterRecord> Cached(const std::string& name) const;
  std::vector<ClusterRecord> CachedAll() const;
  bool CacheFresh() const;  // the last refresh reached etcd

  // Waits until the named cluster is complete with an epoch above `after`,
  // or the timeout passes; returns the record then, nullopt on timeout.
  std::optional<ClusterRecord> WaitForEpoch(const std::string& name, uint64_t after,
                                            std::chrono::milliseconds timeout);

  // Re-reads every record from etcd into the cache now.
  Status Refresh();

 private:
  // `written`: this instance just wrote it (a refresh under way must not
  // put back what it read before); false for a record only read.
  void CacheRecord(const ClusterRecord& record, bool written = true);
  struct Stored {
    ClusterRecord record;
    int64_t mod_revision = 0;
  };
  std::variant<Stored, StoreError> Read(const std::string& name) const;

  const EtcdClient* etcd_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, ClusterRecord> cache_;
  // Writes (and deletes) of this instance, counted, and when each cluster
  // was last written: a refresh that began before a write keeps its result.
  uint64_t local_writes_ = 0;
  std::map<std::string, uint64_t> written_at_;
  bool cache_fresh_ = false;
  bool stopping_ = false;  // WaitForEpoch callers return at once
  // Made by Start (the interval is known only then); last, so that it stops
  // before the members a refresh uses go.
  std::unique_ptr<PeriodicThread> refresher_;
};

}  // namespace redkube::configserver
