// The Redis side of a migration step: finds the keys of a set of slots on
// the source's master and moves them to the target's master, without ever
// leaving a key on neither side (docs/migration.md, "The model").
//
// Small keys go in pipelined batches: `MIGRATE ... COPY KEYS`, a `WAIT` for
// the target's replicas, `UNLINK` on the source and a `WAIT` for the
// source's replicas. Copy, replicate, then delete: a master killed at any
// point leaves every key on a server whose replicas have it. A `BUSYKEY`
// answer means the target already holds the key (it got there by an earlier
// move and counts); the source's copy is deleted.
//
// Big keys (`MEMORY USAGE` above the threshold) would block both servers in
// one MIGRATE; CopyBigKey moves one in chunks to a temporary key on the
// target, then renames it, while the caller has the proxies hold that key.
//
// The target's WAIT needs a write of the mover's own connection to wait for
// (the keys arrived over the source's connection): a PUBLISH to a channel
// nobody listens to is replicated and touches no data.
//
// Blocking; one owner (a migration's runner thread). Every call is bounded
// by the client timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "configserver/slot_set.h"
#include "core/redis_client.h"
#include "core/status.h"

namespace redkube::configserver {

struct KeyMoverOptions {
  std::string password;
  int64_t big_key_bytes = 8 << 20;
  int scan_count = 1000;  // SCAN COUNT
  int batch_keys = 256;   // keys per MIGRATE
  // Bytes per MIGRATE (by MEMORY USAGE): the source serializes and the
  // target restores a batch while both block. bench/migration --quick
  // (2026-12-01, 2 busy cores): 4 MB batches stalled clients 80 ms; 512 KB,
  // 256 KB and 128 KB moved 7.3k, 6.5k and 4.4k keys/s with p99 34, 30 and
  // 34 ms during the move (the machine's noise, not the batch, dominated).
  int64_t batch_bytes = 256 << 10;
  int chunk_elements = 1000;  // elements per chunk of a big key
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds replica_wait{30000};  // the longest WAIT for replicas before giving up
};

struct FoundKey {
  std::string key;
  int64_t bytes = 0;
};

// One SCAN call's worth of keys of the step's slots.
struct ScanPage {
  uint64_t next_cursor = 0;  // 0: the pass is complete
  std::vector<FoundKey> keys;
};

class KeyMover {
 public:
  // `source_replicas` / `target_replicas`: how many replicas WAIT waits for
  // (the shard's in-sync replicas; 0 skips the WAIT).
  KeyMover(const HostPort& source, int source_replicas, const HostPort& target, int target_replicas,
           KeyMoverOptions options);

  // The keys of `slots` in one SCAN page from `cursor`, with their sizes.
  Result<ScanPage> Scan(uint64_t cursor, const SlotSet& slots);

  // Moves small keys (all below the big-key threshold) in one or more
  // MIGRATE batches. Returns how many bytes were moved (MEMORY USAGE).
  Status MoveKeys(const std::vector<FoundKey>& keys);

  // Moves one big key in chunks; the key must not change meanwhile (the
  // proxies hold it). A temporary key left by an interrupted copy is
  // replaced. Missing on the source: nothing to do.
  Status CopyBigKey(const std::string& key);

  bool IsBig(const FoundKey& k) const { return k.bytes > options_.big_key_bytes; }

  // Keys a failed MoveKeys left copied to the target (MIGRATE answered) but
  // not yet deleted on the source. They must be settled, not copied again:
  // a client may have deleted or changed one on the target meanwhile (its
  // proxy saw BUSYKEY and ran there), and a second copy would bring the old
  // value back. The caller keeps them across passes while the target's
  // master stays the same.
  const std::vector<std::string>& unsettled() const { return unsettled_; }
  // Finishes the move of keys already copied: WAIT on the target, UNLINK on
  // the source, WAIT there.
  Status Settle(const std::vector<std::string>& keys);

  // Checked between the chunks of a big key and while waiting for
  // replicas: a runner told to stop (or no longer leading) stops within a
  // chunk, so two leaders never copy into the same temporary key.
  void set_stop(std::function<bool()> stop) { stop_ = std::move(stop); }

 private:
  Status MigrateBatch(const std::vector<std::string>& keys);
  Status Stopped() const;
  Status WaitReplicas(RedisClient* client, int replicas, bool fence);
  Status CopyChunks(const std::string& key, const std::string& type, const std::string& temp);

  HostPort source_address_;
  HostPort target_address_;
  int source_replicas_;
  int target_replicas_;
  KeyMoverOptions options_;
  RedisClient source_;
  RedisClient target_;
  std::vector<std::string> unsettled_;
  std::function<bool()> stop_;
};

}  // namespace redkube::configserver
