#include "operator/kube/resource_path.h"

#include <fmt/format.h>

namespace redkube::kube {

std::string Resource::ApiVersion() const {
  return group.empty() ? std::string(version) : fmt::format("{}/{}", group, version);
}

std::string Path(const Resource& resource, std::string_view ns, std::string_view name,
                 std::string_view subresource) {
  std::string path = resource.group.empty() ? fmt::format("/api/{}", resource.version)
                                            : fmt::format("/apis/{}/{}", resource.group, resource.version);
  if (resource.namespaced && !ns.empty()) path += fmt::format("/namespaces/{}", ns);
  path += fmt::format("/{}", resource.plural);
  if (!name.empty()) {
    path += fmt::format("/{}", name);
    if (!subresource.empty()) path += fmt::format("/{}", subresource);
  }
  return path;
}

std::string PercentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += key;
    out += '=';
    out += PercentEncode(value);
  }
  return out;
}

}  // namespace redkube::kube
