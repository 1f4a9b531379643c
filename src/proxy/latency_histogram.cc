#include "proxy/latency_histogram.h"

#include <fmt/format.h>

namespace redkube::proxy {

void LatencyHistogram::Render(std::string* out, std::string_view name, std::string_view labels,
                              const Counts& counts, uint64_t sum_us) {
  std::string_view sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < kBoundsUs.size() ? fmt::format("{:g}", static_cast<double>(kBoundsUs[i]) / 1e6) : "+Inf";
    fmt::format_to(std::back_inserter(*out), "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le, cumulative);
  }
  fmt::format_to(std::back_inserter(*out), "{}_sum{}{}{}{} {:g}\n", name, labels.empty() ? "" : "{", labels,
                 labels.empty() ? "" : "}", "", static_cast<double>(sum_us) / 1e6);
  fmt::format_to(std::back_inserter(*out), "{}_count{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                 labels.empty() ? "" : "}", cumulative);
}

}  // namespace redkube::proxy
