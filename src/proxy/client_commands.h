// The CLIENT subcommands the proxy answers for its own clients, across all
// its worker threads: LIST, INFO, KILL, REPLY, PAUSE/UNPAUSE, NO-EVICT,
// NO-TOUCH, GETREDIR, TRACKINGINFO, UNBLOCK, HELP; TRACKING and CACHING
// refused (docs/proxy.md, "CLIENT and MONITOR"). SETNAME, GETNAME and ID
// stay in local_commands.cc.
#pragma once

#include <string_view>

#include "proxy/local_commands.h"

namespace redkube::proxy {

struct CommandRoute;
struct RequestContext;

// The handler for a full name ("client|list"), or nullptr.
LocalCommand FindClientCommand(std::string_view full_name);

// On the request path while a CLIENT PAUSE may be on: parks the request
// (the caller returns DispatchOrder::kWaitForTopology) if the pause holds
// it; it runs again when the pause ends.
bool ParkIfPaused(RequestContext& ctx, const CommandRoute& route);

}  // namespace redkube::proxy
