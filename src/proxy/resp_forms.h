// The forms of the proxy's own replies that differ between RESP2 and RESP3,
// chosen by the client's protocol (ClientState::resp), as redis-server 7.0
// chooses them: a nil is `_` in RESP3 ($-1 / *-1 in RESP2), a map is `%`
// (a flat array of pairs in RESP2), a text reply such as INFO or CLIENT
// INFO is a verbatim string `=N\r\ntxt:...` (a bulk string in RESP2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/reply_scanner.h"

namespace redkube::proxy {

inline std::string_view NilReply(int resp) { return resp == 3 ? "_\r\n" : "$-1\r\n"; }
inline std::string_view NullArrayReply(int resp) { return resp == 3 ? "_\r\n" : "*-1\r\n"; }

// A map of `pairs` key/value pairs: its header.
inline void AppendMapHeader(std::string* out, int64_t pairs, int resp) {
  if (resp == 3) {
    out->append("%").append(std::to_string(pairs)).append("\r\n");
  } else {
    AppendArrayHeader(out, 2 * pairs);
  }
}

// Text for people (INFO, CLIENT INFO): verbatim "txt" in RESP3.
inline void AppendText(std::string* out, std::string_view text, int resp) {
  if (resp != 3) return AppendBulk(out, text);
  out->append("=").append(std::to_string(text.size() + 4)).append("\r\ntxt:");
  out->append(text).append("\r\n");
}
inline std::string TextReply(std::string_view text, int resp) {
  std::string out;
  AppendText(&out, text, resp);
  return out;
}

// A HELP subcommand's reply: one simple string per line, as redis-server
// answers HELP in both protocols.
inline std::string HelpReply(std::span<const std::string_view> lines) {
  std::string out;
  AppendArrayHeader(&out, static_cast<int64_t>(lines.size()));
  for (std::string_view line : lines) out.append("+").append(line).append("\r\n");
  return out;
}

}  // namespace redkube::proxy
