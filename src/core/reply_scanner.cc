#include "core/reply_scanner.h"

#include <charconv>
#include <climits>
#include <cstring>

namespace redkube {
namespace {

bool ParseLength(const char* p, const char* end, int64_t* out) {
  auto r = std::from_chars(p, end, *out);
  return r.ec == std::errc() && r.ptr == end;
}

// More elements than any server can send (each takes bytes): a count above
// it is garbage, refused before it is doubled (maps) or counted down.
constexpr int64_t kMaxAggregateLength = INT32_MAX;

const char* FindLf(const char* p, const char* end) {
  return static_cast<const char*>(std::memchr(p, '\n', end - p));
}

}  // namespace

int64_t ReplyScanner::Scan(const char* data, size_t size) {
  const char* end = data + size;
  while (true) {
    const char* p = data + pos_;
    if (p >= end) return 0;
    const char* lf = FindLf(p, end);
    if (lf == nullptr) return 0;
    if (lf == p || lf[-1] != '\r') return -1;
    const char* line_end = lf - 1;  // at '\r'
    size_t next = lf + 1 - data;
    int64_t children = 0;  // elements this value opens
    switch (*p) {
      case '+':
      case '-':
      case ':':
      case '_':
      case ',':
      case '#':
      case '(':
        break;
      case '$':
      case '!':
      case '=': {
        int64_t len;
        if (!ParseLength(p + 1, line_end, &len) || len < -1) return -1;
        if (len >= 0) {
          size_t need = next + static_cast<size_t>(len) + 2;
          if (need > size) return 0;
          if (data[need - 2] != '\r' || data[need - 1] != '\n') return -1;
          next = need;
        }
        break;
      }
      case '*':
      case '~':
      case '>':
      case '%':
      case '|': {
        int64_t n;
        if (!ParseLength(p + 1, line_end, &n) || n < -1 || n > kMaxAggregateLength) return -1;
        if (n > 0) children = (*p == '%' || *p == '|') ? 2 * n : n;
        break;
      }
      default:
        return -1;
    }
    pos_ = next;
    // An attribute (|) precedes the value it annotates and is not counted by
    // the enclosing aggregate: make room for it at this level (at top level,
    // for both the attribute and the value).
    if (*p == '|') {
      if (remaining_.empty()) {
        remaining_.push_back(2);
      } else {
        ++remaining_.back();
      }
    }
    if (children > 0) {
      remaining_.push_back(children);
      continue;
    }
    // One complete value: close every aggregate it completes.
    while (!remaining_.empty()) {
      if (--remaining_.back() > 0) break;
      remaining_.pop_back();
    }
    if (remaining_.empty()) {
      size_t total = pos_;
      pos_ = 0;
      return static_cast<int64_t>(total);
    }
  }
}

namespace {

// The `per_count` * N elements of an aggregate whose header says N.
bool SplitElements(std::string_view reply, int64_t per_count, std::vector<std::string_view>* elements) {
  elements->clear();
  size_t lf = reply.find('\n');
  if (lf == std::string_view::npos || lf < 2) return false;
  int64_t n;
  if (!ParseLength(reply.data() + 1, reply.data() + lf - 1, &n) || n < 0 || n > kMaxAggregateLength) {
    return false;
  }
  size_t pos = lf + 1;
  for (int64_t i = 0; i < per_count * n; ++i) {
    ReplyScanner scanner;
    int64_t len = scanner.Scan(reply.data() + pos, reply.size() - pos);
    if (len <= 0) return false;
    elements->push_back(reply.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len);
  }
  return true;
}

bool IsArrayLike(char type) { return type == '*' || type == '~' || type == '>'; }

}  // namespace

bool SplitArray(std::string_view reply, std::vector<std::string_view>* elements) {
  elements->clear();
  if (reply.empty() || !IsArrayLike(reply[0])) return false;
  return SplitElements(reply, 1, elements);
}

bool SplitAggregate(std::string_view reply, std::vector<std::string_view>* elements) {
  elements->clear();
  if (reply.empty()) return false;
  if (reply[0] == '%') return SplitElements(reply, 2, elements);
  return IsArrayLike(reply[0]) && SplitElements(reply, 1, elements);
}

bool ParseIntegerReply(std::string_view reply, int64_t* value) {
  if (reply.size() < 4 || reply[0] != ':') return false;
  return ParseLength(reply.data() + 1, reply.data() + reply.size() - 2, value);
}

bool ParseStringReply(std::string_view reply, std::string_view* value) {
  if (reply.size() < 3) return false;
  if (reply[0] == '+') {
    *value = reply.substr(1, reply.size() - 3);
    return true;
  }
  if (reply[0] != '$') return false;
  size_t lf = reply.find('\n');
  int64_t len;
  if (lf == std::string_view::npos || !ParseLength(reply.data() + 1, reply.data() + lf - 1, &len) ||
      len < 0) {
    return false;
  }
  *value = reply.substr(lf + 1, static_cast<size_t>(len));
  return true;
}

}  // namespace redkube
