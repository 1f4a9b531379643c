// Template definitions for reply_scanner.h.
#pragma once

#include <charconv>

namespace redkube {
namespace internal {
template <typename Out>
void AppendPrefixed(Out* out, char prefix, int64_t v) {
  char buf[24];
  buf[0] = prefix;
  auto r = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  out->append(buf, r.ptr + 2 - buf);
}
}  // namespace internal

template <typename Out>
void AppendBulk(Out* out, std::string_view s) {
  internal::AppendPrefixed(out, '$', static_cast<int64_t>(s.size()));
  out->append(s.data(), s.size());
  out->append("\r\n", 2);
}

template <typename Out>
void AppendInteger(Out* out, int64_t v) {
  internal::AppendPrefixed(out, ':', v);
}

template <typename Out>
void AppendArrayHeader(Out* out, int64_t n) {
  internal::AppendPrefixed(out, '*', n);
}

}  // namespace redkube
