#include "core/resp_parser.h"

#include <cstring>

namespace redkube {
namespace {

// Parses a signed decimal that spans exactly [p, end). Redis's string2ll
// semantics: no leading '+', no spaces, no leading zeros beyond "0".
bool ParseInt(const char* p, const char* end, int64_t* out) {
  if (p == end) return false;
  bool negative = false;
  if (*p == '-') {
    negative = true;
    if (++p == end) return false;
  }
  if (*p == '0' && end - p > 1) return false;  // "01" is not a number to Redis
  int64_t v = 0;
  for (; p != end; ++p) {
    if (*p < '0' || *p > '9') return false;
    if (v > (INT64_MAX - (*p - '0')) / 10) return false;
    v = v * 10 + (*p - '0');
  }
  *out = negative ? -v : v;
  return true;
}

const char* FindCrlf(const char* p, const char* end) {
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', end - p));
  while (cr != nullptr && cr + 1 < end && cr[1] != '\n') {
    cr = static_cast<const char*>(std::memchr(cr + 1, '\r', end - cr - 1));
  }
  return (cr != nullptr && cr + 1 < end) ? cr : nullptr;
}

// The fast path for the "<digits>\r\n" line that follows '*' or '$' in almost
// every request: parses and finds the line end in one pass. Returns the
// pointer past "\r\n", or nullptr for anything else (the caller then takes
// the general path, which waits for more data or names the error).
inline const char* ParsePlainLength(const char* p, const char* end, int64_t* out) {
  const char* q = p;
  int64_t v = 0;
  while (q < end && *q >= '0' && *q <= '9' && q - p < 18) {
    v = v * 10 + (*q - '0');
    ++q;
  }
  if (q == p || end - q < 2 || q[0] != '\r' || q[1] != '\n') return nullptr;
  if (*p == '0' && q - p > 1) return nullptr;
  *out = v;
  return q + 2;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits an inline line into arguments exactly like Redis's sdssplitargs():
// double quotes with C escapes (\n \r \t \b \a \xHH), single quotes with \'.
bool SplitInline(std::string_view line, std::vector<std::string>* out) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return true;
    std::string current;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (in_double) {
        if (i >= n) return false;  // unterminated quotes
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          current.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c = line[i];
          switch (c) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              break;
          }
          current.push_back(c);
        } else if (line[i] == '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          current.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        switch (line[i]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(line[i]);
            break;
        }
      }
      if (i < n) ++i;
    }
    out->push_back(std::move(current));
  }
}

}  // namespace

void RequestParser::Reset() {
  in_progress_ = false;
  expected_args_ = 0;
  pos_ = 0;
  arg_offsets_.clear();
  pending_bulk_bytes_ = 0;
}

RequestParser::Result RequestParser::Fail(std::string message) {
  Reset();
  error_ = "Protocol error: " + std::move(message);
  return Result::kError;
}

RequestParser::Result RequestParser::Parse(const char* data, size_t size, size_t* consumed) {
  *consumed = 0;
  if (size == 0) return Result::kNeedMore;
  if (in_progress_ || data[0] == '*') return ParseMultibulk(data, size, consumed);
  return ParseInline(data, size, consumed);
}

RequestParser::Result RequestParser::ParseInline(const char* data, size_t size, size_t* consumed) {
  const char* nl = static_cast<const char*>(std::memchr(data, '\n', size));
  if (nl == nullptr) {
    if (size > kMaxInlineSize) return Fail("too big inline request");
    return Result::kNeedMore;
  }
  size_t line_len = nl - data;
  *consumed = line_len + 1;
  if (line_len > 0 && data[line_len - 1] == '\r') --line_len;
  inline_args_.clear();
  if (!SplitInline(std::string_view(data, line_len), &inline_args_)) {
    return Fail("unbalanced quotes in request");
  }
  if (inline_args_.empty()) return Result::kEmpty;
  args_.clear();
  for (const auto& a : inline_args_) args_.emplace_back(a);
  multibulk_ = false;
  return Result::kComplete;
}

RequestParser::Result RequestParser::ParseMultibulk(const char* data, size_t size, size_t* consumed) {
  const char* end = data + size;
  if (!in_progress_) {
    int64_t count;
    const char* line_end = ParsePlainLength(data + 1, end, &count);
    if (line_end == nullptr) {
      const char* cr = FindCrlf(data, end);
      if (cr == nullptr) {
        if (size > kMaxInlineSize) return Fail("too big mbulk count string");
        return Result::kNeedMore;
      }
      if (!ParseInt(data + 1, cr, &count)) return Fail("invalid multibulk length");
      line_end = cr + 2;
    }
    if (count > kMaxMultibulkLength) return Fail("invalid multibulk length");
    if (count <= 0) {
      *consumed = line_end - data;
      return Result::kEmpty;
    }
    in_progress_ = true;
    expected_args_ = count;
    pos_ = line_end - data;
    arg_offsets_.clear();
    // Reserve up front only what a small request needs; a huge count grows
    // with the data actually received.
    arg_offsets_.reserve(static_cast<size_t>(count < 1024 ? count : 1024));
  }
  while (static_cast<int64_t>(arg_offsets_.size()) < expected_args_) {
    const char* p = data + pos_;
    if (p >= end) return Result::kNeedMore;
    if (*p != '$') {
      // Non-printable bytes are shown escaped so the error line stays one line.
      std::string got(1, *p);
      if (*p < 32 || *p >= 127) {
        static const char kHex[] = "0123456789abcdef";
        got = std::string("\\x") + kHex[(*p >> 4) & 0xf] + kHex[*p & 0xf];
      }
      return Fail("expected '$', got '" + got + "'");
    }
    int64_t len;
    const char* line_end = ParsePlainLength(p + 1, end, &len);
    if (line_end == nullptr) {
      const char* cr = FindCrlf(p, end);
      if (cr == nullptr) {
        if (static_cast<size_t>(end - p) > kMaxInlineSize) return Fail("too big bulk count string");
        return Result::kNeedMore;
      }
      if (!ParseInt(p + 1, cr, &len) || len < 0) return Fail("invalid bulk length");
      line_end = cr + 2;
    }
    if (len > kMaxBulkLength) return Fail("invalid bulk length");
    size_t start = line_end - data;
    size_t need = start + static_cast<size_t>(len) + 2;
    if (need > size) {
      pending_bulk_bytes_ = need - size;
      return Result::kNeedMore;
    }
    pending_bulk_bytes_ = 0;
    if (data[need - 2] != '\r' || data[need - 1] != '\n') {
      return Fail("expected CRLF after bulk");  // redis would misparse; we refuse
    }
    arg_offsets_.emplace_back(start, static_cast<size_t>(len));
    pos_ = need;
  }
  args_.clear();
  for (const auto& [offset, length] : arg_offsets_) args_.emplace_back(data + offset, length);
  *consumed = pos_;
  multibulk_ = true;
  Reset();
  return Result::kComplete;
}

}  // namespace redkube
