#include "proxy/pubsub_protocol.h"

#include "core/strings.h"

namespace redkube::proxy {

bool IsPubsubMessage(std::string_view reply) {
  // RESP2 arrays, or RESP3 pushes (a RESP3 client's own connections).
  if (reply.empty() || (reply[0] != '*' && reply[0] != '>')) return false;
  std::string_view rest = reply.substr(1);
  return rest.starts_with("3\r\n$7\r\nmessage\r\n") || rest.starts_with("4\r\n$8\r\npmessage\r\n") ||
         rest.starts_with("3\r\n$8\r\nsmessage\r\n");
}

std::optional<int64_t> SubscriptionCount(std::string_view reply) {
  if ((!reply.starts_with("*3\r\n") && !reply.starts_with(">3\r\n")) || !reply.ends_with("\r\n")) {
    return std::nullopt;
  }
  size_t colon = reply.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  // The count, between the last ':' and the final "\r\n".
  return ParseInt64(reply.substr(colon + 1, reply.size() - 2 - (colon + 1)));
}

std::string SubscriptionReply(std::string_view kind, std::optional<std::string_view> name, int64_t count,
                              int resp) {
  std::string out = (resp == 3 ? ">3\r\n$" : "*3\r\n$") + std::to_string(kind.size()) + "\r\n";
  out.append(kind);
  out += "\r\n";
  if (name) {
    out += "$" + std::to_string(name->size()) + "\r\n";
    out.append(*name);
    out += "\r\n";
  } else {
    out += resp == 3 ? "_\r\n" : "$-1\r\n";
  }
  out += ":" + std::to_string(count) + "\r\n";
  return out;
}

}  // namespace redkube::proxy
