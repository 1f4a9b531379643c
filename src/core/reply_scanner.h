// Finds where one RESP reply (RESP2 or RESP3) ends in a byte stream from a
// server, without building it: the proxy passes replies through as bytes and
// only needs their boundaries. Resumable like RequestParser: call again with
// the same bytes plus more, and scanning continues where it stopped, so a
// reply of any size or nesting is scanned once. One per backend connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace redkube {

class ReplyScanner {
 public:
  // Length of the first complete reply in [data, data+size), 0 if it is not
  // complete yet, -1 if the bytes are not RESP.
  int64_t Scan(const char* data, size_t size);

 private:
  size_t pos_ = 0;
  std::vector<int64_t> remaining_;  // elements still to scan, per open aggregate
};

// Helpers for complete replies (the output of ReplyScanner).

inline bool IsErrorReply(std::string_view reply) {
  return !reply.empty() && (reply[0] == '-' || reply[0] == '!');
}

// The elements of a complete array reply, in order, as complete replies.
// False if the reply is not an array (a nil array yields false too).
bool SplitArray(std::string_view reply, std::vector<std::string_view>* elements);
// The same for an array, set or push, and the keys and values of a RESP3 map
// in order (2 elements per pair).
bool SplitAggregate(std::string_view reply, std::vector<std::string_view>* elements);

// The value of an integer reply (":123\r\n").
bool ParseIntegerReply(std::string_view reply, int64_t* value);

// The payload of a bulk string or simple string reply; false for nil/other.
bool ParseStringReply(std::string_view reply, std::string_view* value);

// Appends RESP encodings to out (any type with append(const char*, size_t)).
template <typename Out>
void AppendBulk(Out* out, std::string_view s);
template <typename Out>
void AppendInteger(Out* out, int64_t v);
template <typename Out>
void AppendArrayHeader(Out* out, int64_t n);

}  // namespace redkube

#include "core/reply_scanner_inl.h"
