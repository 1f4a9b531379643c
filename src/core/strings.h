// Text helpers that every component needs the same way: command words and
// options are compared without regard to ASCII case, and integers in
// arguments, replies and documents are read as Redis reads them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace redkube {

// Whether `a` and `b` are equal ignoring ASCII case ("GET" == "get"); bytes
// outside A-Z/a-z must match exactly. Independent of the locale.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The signed decimal that is the whole of `text`, as Redis's string2ll reads
// it (so as redis-server parses an integer argument): an optional '-', then
// digits with no leading zero ("0" itself aside). Refused (nullopt): an empty
// string, "+1", " 1", "1 ", "01", "-0", "1.0", and anything outside int64_t
// (INT64_MIN itself is accepted).
std::optional<int64_t> ParseInt64(std::string_view text);

// Lowercase hex of arbitrary bytes, and back: how binary key names travel in
// JSON documents (the topology's held keys). HexDecode refuses odd lengths
// and anything but 0-9a-f (one spelling per key).
std::string HexEncode(std::string_view bytes);
// `text` with CR and LF made spaces: what a client sent, quoted in one line
// of an error reply (a CR LF in it would end the reply early and inject
// another).
std::string OneLine(std::string_view text);
std::optional<std::string> HexDecode(std::string_view hex);

}  // namespace redkube
