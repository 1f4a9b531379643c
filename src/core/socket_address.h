// Turns a HostPort into the IPv4 socket address to connect to: an IPv4
// literal directly, a host name through getaddrinfo (blocking; callers only
// resolve when they (re)connect).
#pragma once

#include <netinet/in.h>

#include "core/status.h"
#include "core/topology.h"

namespace redkube {

Result<sockaddr_in> ResolveIPv4(const HostPort& address);

}  // namespace redkube
