// INFO [section ...] through the proxy: every section of a redis-server,
// each field the proxy's own figure or the masters' combined (info_merge.h
// has the rules), and the proxy's own "# Proxy" section.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "proxy/request_context.h"

namespace redkube::proxy {

void Info(RequestContext& ctx, std::span<const std::string_view> argv);

}  // namespace redkube::proxy
