// How the masters' replies to LATENCY and MEMORY combine into one reply
// (ReplyMerger::CustomMerge functions: pure, unit-tested on RESP bytes).
// Each takes every master's reply (none an error: the merger answers the
// first error itself) and writes the merged reply.
#pragma once

#include <span>
#include <string>

#include "proxy/reply_merger.h"

namespace redkube::proxy {

// LATENCY LATEST: [event, time, latest ms, max ms] per event; per event the
// latest time and the largest figures over the masters.
void MergeLatencyLatest(std::span<const std::string> parts, const ReplyMerger& m, std::string* out);

// LATENCY HISTORY event: [time, ms] samples of every master, by time (the
// largest at one time), the newest 160 (redis-server keeps 160).
void MergeLatencyHistory(std::span<const std::string> parts, const ReplyMerger& m, std::string* out);

// LATENCY DOCTOR, LATENCY GRAPH, MEMORY DOCTOR, MEMORY MALLOC-STATS: each
// master's text under a "--- shard <id> ---" line (m.part_labels), as one
// bulk string.
void MergeLabelledText(std::span<const std::string> parts, const ReplyMerger& m, std::string* out);

// MEMORY STATS: the flat [name, value, ...] array of redis-server. Integers
// summed (nested db.N arrays too, key by key); the ratios and percentages
// recomputed from the sums as redis-server computes them; other decimals
// the largest.
void MergeMemoryStats(std::span<const std::string> parts, const ReplyMerger& m, std::string* out);

}  // namespace redkube::proxy
