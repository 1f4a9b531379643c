// The decisions of the scale workflow, from what it reads of the
// ConfigServer (the cluster record and the migrations listing of
// docs/migration.md). Pure: no I/O, so each can be tested on its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/cluster_view.h"
#include "runtime/shard_name.h"

namespace redkube::runtime {

// Slots owned by shard `id` in the record (0 if absent).
int SlotsOwned(const ClusterView& record, const std::string& id);

// True when `kept` hold every slot in equal shares (each floor or ceiling of
// 16384 / kept.size()) and every other shard none: there is nothing to
// rebalance. (A created cluster's shards are balanced this way, not
// necessarily with the planner's exact order of who gets one more.)
bool SlotsBalanced(const ClusterView& record, const std::vector<std::string>& kept);

// Field `key` of `doc` if it is a number, else `fallback` (the listing's
// eta_s is null while unknown).
double NumberOr(const nlohmann::json& doc, const char* key, double fallback);

// A migration is active until it is done, failed or cancelled.
bool MigrationActive(const nlohmann::json& migration);
// The ids of the active migrations of a listing.
std::vector<std::string> ActiveMigrations(const nlohmann::json& listing);

// The progress of a set of migrations, summed.
struct MigrationProgress {
  int total = 0;  // migrations followed
  int queued = 0, running = 0, paused = 0, finished = 0;
  int64_t slots_done = 0, slots_total = 0;
  int64_t keys_moved = 0, bytes_moved = 0;
  double keys_per_s = 0;  // over the running ones
  // Summed over the running ones: an upper bound (they run in parallel) that
  // never promises too early; queued ones are not counted (no rate yet).
  // Negative while a running one does not know its own yet.
  double eta_s = 0;
  std::vector<std::string> waiting_for;  // proxies a move waits for
  bool AllFinished() const { return finished == total; }
};
// Sums the migrations of `listing` named in `ids`. An id the listing no
// longer has (only the last 32 finished are kept) counts as finished.
MigrationProgress SumProgress(const nlohmann::json& listing, const std::vector<std::string>& ids);

// The message for the first of `ids` that ended failed or cancelled, or
// nothing.
std::optional<std::string> MigrationFailure(const nlohmann::json& listing,
                                            const std::vector<std::string>& ids);

// How progress reads on a terminal: "81.2k", "4.1M"; "12s", "3m05s", "2h10m"
// ("-" for an unknown or negative duration); a bar of `width` characters.
std::string HumanCount(double n);
std::string HumanDuration(double seconds);
std::string ProgressBar(int64_t done, int64_t total, int width);
// One line for `p`: bar, slots done/total, keys moved, keys/s, ETA, and the
// migrations' states when not all run.
std::string ProgressText(const MigrationProgress& p);

}  // namespace redkube::runtime
