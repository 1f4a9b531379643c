// Writing a client's request to a backend: its bytes as received when it
// came as multibulk (forwarded untouched, one copy), else encoded.
#pragma once

#include <span>
#include <string_view>

#include "core/buffer.h"
#include "core/reply_scanner.h"

namespace redkube::proxy {

// Out: Buffer or std::string (anything with append(const char*, size_t)).
template <typename Out>
void AppendRequest(Out* out, std::span<const std::string_view> argv, std::string_view raw) {
  if (!raw.empty()) {
    out->append(raw.data(), raw.size());
    return;
  }
  AppendArrayHeader(out, static_cast<int64_t>(argv.size()));
  for (auto a : argv) AppendBulk(out, a);
}

inline constexpr std::string_view kCrossSlotError =
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n";

}  // namespace redkube::proxy
