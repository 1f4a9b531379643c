#include "proxy/latency_histogram.h"

#include <gtest/gtest.h>

namespace redkube::proxy {
namespace {

LatencyHistogram::Counts CountsOf(std::initializer_list<int64_t> samples_us) {
  LatencyHistogram h;
  for (int64_t us : samples_us) h.Record(us);
  LatencyHistogram::Counts counts{};
  uint64_t sum = 0;
  h.AddTo(&counts, &sum);
  return counts;
}

TEST(LatencyHistogramTest, QuantilesInterpolateWithinBuckets) {
  // 100 samples in (0, 100] us: the median is halfway through that bucket.
  LatencyHistogram::Counts counts{};
  counts[0] = 100;
  EXPECT_DOUBLE_EQ(LatencyHistogram::Quantile(counts, 0.5), 50.0);
  EXPECT_DOUBLE_EQ(LatencyHistogram::Quantile(counts, 1.0), 100.0);
}

TEST(LatencyHistogramTest, SlowTailShowsInHighQuantilesOnly) {
  auto counts = CountsOf({50, 50, 50, 50, 50, 50, 50, 50, 50, 20000});
  EXPECT_LE(LatencyHistogram::Quantile(counts, 0.5), 100.0);
  EXPECT_GT(LatencyHistogram::Quantile(counts, 0.99), 10000.0);
  EXPECT_LE(LatencyHistogram::Quantile(counts, 0.99), 25000.0);
}

TEST(LatencyHistogramTest, EmptyAndBeyondTheLastBound) {
  LatencyHistogram::Counts empty{};
  EXPECT_EQ(LatencyHistogram::Quantile(empty, 0.99), 0.0);
  auto counts = CountsOf({5'000'000});
  EXPECT_EQ(LatencyHistogram::Quantile(counts, 0.5), static_cast<double>(LatencyHistogram::kBoundsUs.back()));
}

}  // namespace
}  // namespace redkube::proxy
