// Which redis-server parameters CONFIG SET may change through redkube, and
// which belong to the platform. Both the proxy (refused at once, with the
// reason) and the ConfigServer's config endpoint (refused again, so another
// client of the API cannot set them either) read this one table. Pure
// functions, no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace redkube {

// Why `name` (lower case) may not be set through redkube, or nullopt when it
// may. Covers the parameters whose value the platform chooses (addresses,
// files, passwords, replication, the failover settings the ConfigServer
// keeps on every server) and the ones that would let a client take the
// server away from it.
std::optional<std::string_view> ConfigParameterRefusal(std::string_view name);

// Whether servers configured alike still differ in `name` by design (their
// port, files, replication, min-replicas-to-write): CONFIG GET through the
// proxy does not count such a difference as a disagreement.
bool ConfigParameterDiffersPerServer(std::string_view name);

// A parameter name as redis-server knows them: 1-128 of [a-z0-9-] once
// lowered (no glob characters: CONFIG SET takes names, not patterns).
// Returns the lowered name, or nullopt.
std::optional<std::string> NormalizedConfigParameter(std::string_view name);

}  // namespace redkube
