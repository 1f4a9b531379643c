// Incremental parser of client requests: RESP multibulk arrays of bulk
// strings, and inline commands (redis-cli, telnet), with redis-server's limits
// and error texts.
//
// The caller hands Parse() the unread input, always starting at the first
// byte of the request being parsed; when Parse() asks for more, the next call
// must pass the same bytes followed by more (the bytes may have moved, e.g. to
// a bigger buffer). The parser remembers offsets, not pointers, so resuming
// costs nothing whatever the request size: a 512 MB value or a million-key
// MSET is scanned once. Not thread-safe; one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace redkube {

class RequestParser {
 public:
  enum class Result {
    kComplete,  // args() holds the request; *consumed bytes belong to it
    kNeedMore,  // incomplete; call again with more bytes
    kEmpty,     // an empty request (blank inline line, *0): skip *consumed bytes
    kError,     // protocol error: error() says what; the connection must close
  };

  // Redis's limits: proto-max-bulk-len and the inline/multibulk line caps.
  static constexpr int64_t kMaxBulkLength = 512LL * 1024 * 1024;
  static constexpr int64_t kMaxMultibulkLength = 1024LL * 1024 * 1024;
  static constexpr size_t kMaxInlineSize = 64 * 1024;

  Result Parse(const char* data, size_t size, size_t* consumed);

  // The arguments of the last complete request; valid until the next Parse()
  // call and while the input bytes stay where they were.
  std::span<const std::string_view> args() const { return args_; }
  // Whether the last complete request was a multibulk one (its raw bytes can
  // then be forwarded as they are).
  bool multibulk() const { return multibulk_; }
  // "Protocol error: ..." for the last kError.
  const std::string& error() const { return error_; }
  // Bytes still missing for the bulk being read (0 if unknown): lets the
  // caller size its buffer once for a large value.
  size_t pending_bulk_bytes() const { return pending_bulk_bytes_; }

 private:
  Result ParseMultibulk(const char* data, size_t size, size_t* consumed);
  Result ParseInline(const char* data, size_t size, size_t* consumed);
  Result Fail(std::string message);
  void Reset();

  // Resumable state of a multibulk request in progress.
  bool in_progress_ = false;
  int64_t expected_args_ = 0;
  size_t pos_ = 0;                                      // offset of the next unparsed byte
  std::vector<std::pair<size_t, size_t>> arg_offsets_;  // (offset, length)

  bool multibulk_ = false;
  size_t pending_bulk_bytes_ = 0;
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_args_;  // owns unquoted inline arguments
  std::string error_;
};

}  // namespace redkube
