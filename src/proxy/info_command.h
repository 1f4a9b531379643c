// INFO [section ...] through the proxy: the proxy's own sections (proxy,
// clients, stats, commandstats, latencystats), the Server section of the
// first shard (so clients can read redis_version), and the keyspace summed
// over every shard. Sections that describe one server (memory,
// replication, ...) are left to the servers themselves.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "proxy/request_context.h"

namespace redkube::proxy {

void Info(RequestContext& ctx, std::span<const std::string_view> argv);

}  // namespace redkube::proxy
