// A latency histogram with Prometheus-style cumulative buckets, updated with
// relaxed atomics (readers see a consistent-enough view for monitoring) and
// rendered in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace redkube::proxy {

// Adds to a counter that only the calling thread writes (others only read):
// a relaxed load and store, where fetch_add would lock the bus.
inline void BumpSingleWriter(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

class LatencyHistogram {
 public:
  // Upper bounds in microseconds; one more bucket (+Inf) follows.
  static constexpr std::array<int64_t, 12> kBoundsUs = {100,   250,   500,   1000,   2500,   5000,
                                                        10000, 25000, 50000, 100000, 250000, 1000000};

  // Any thread may record.
  void Record(int64_t us) {
    buckets_[BucketOf(us)].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(us < 0 ? 0 : us), std::memory_order_relaxed);
  }
  // Only one thread ever records (a worker's own histograms): plain
  // increments, no locked instruction on the request path.
  void RecordSingleWriter(int64_t us) {
    BumpSingleWriter(buckets_[BucketOf(us)], 1);
    BumpSingleWriter(sum_us_, static_cast<uint64_t>(us < 0 ? 0 : us));
  }

  // Zeroes it (CONFIG RESETSTAT).
  void Reset() {
    for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
    sum_us_.store(0, std::memory_order_relaxed);
  }

  // Adds this histogram's counts into `into` (for sums over threads).
  void AddTo(std::array<uint64_t, kBoundsUs.size() + 1>* into, uint64_t* sum_us) const {
    for (size_t i = 0; i < buckets_.size(); ++i) (*into)[i] += buckets_[i].load(std::memory_order_relaxed);
    *sum_us += sum_us_.load(std::memory_order_relaxed);
  }

  using Counts = std::array<uint64_t, kBoundsUs.size() + 1>;
  // The q-quantile (0 < q <= 1) in microseconds, interpolated linearly in
  // its bucket (as Prometheus' histogram_quantile does); the top bucket has
  // no bound, so quantiles there read as the last bound. 0 with no samples.
  static double Quantile(const Counts& counts, double q);
  // `name`_bucket{labels,le=...}, `name`_sum (seconds) and `name`_count lines.
  static void Render(std::string* out, std::string_view name, std::string_view labels, const Counts& counts,
                     uint64_t sum_us);

 private:
  static size_t BucketOf(int64_t us) {
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    return i;
  }

  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
};

}  // namespace redkube::proxy
