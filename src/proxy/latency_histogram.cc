#include "proxy/latency_histogram.h"

#include <fmt/format.h>

namespace redkube::proxy {

double LatencyHistogram::Quantile(const Counts& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return 0;
  double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0 && static_cast<double>(below + counts[i]) >= rank) {
      if (i == kBoundsUs.size()) return static_cast<double>(kBoundsUs.back());
      double lower = i == 0 ? 0.0 : static_cast<double>(kBoundsUs[i - 1]);
      double upper = static_cast<double>(kBoundsUs[i]);
      return lower + (upper - lower) * (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
    }
    below += counts[i];
  }
  return static_cast<double>(kBoundsUs.back());
}

void LatencyHistogram::Render(std::string* out, std::string_view name, std::string_view labels,
                              const Counts& counts, uint64_t sum_us) {
  std::string_view sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le =
        i < kBoundsUs.size() ? fmt::format("{:g}", static_cast<double>(kBoundsUs[i]) / 1e6) : "+Inf";
    fmt::format_to(std::back_inserter(*out), "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le,
                   cumulative);
  }
  fmt::format_to(std::back_inserter(*out), "{}_sum{}{}{}{} {:g}\n", name, labels.empty() ? "" : "{", labels,
                 labels.empty() ? "" : "}", "", static_cast<double>(sum_us) / 1e6);
  fmt::format_to(std::back_inserter(*out), "{}_count{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                 labels.empty() ? "" : "}", cumulative);
}

}  // namespace redkube::proxy
