// CONFIG through the proxy (docs/proxy.md, "CONFIG through the proxy"):
//
//   GET       every master is asked (a fan-out, ReplyMerger kind
//             kConfigGet); the first shard's master answers, and a master
//             that differs in a parameter servers share is logged.
//   SET       refused at once for the platform's parameters
//             (core/config_parameters.h); otherwise sent to the ConfigServer
//             (ConfigRelay, off the worker thread), which applies it to every
//             server, masters and replicas, all or none, and keeps it for the
//             servers it starts later. The client's next requests wait for
//             its reply (the route's kRouteOwnConnection), as on one server.
//   RESETSTAT every master, and the proxy's own counters.
//   REWRITE   refused: the ConfigServer keeps what CONFIG SET changed.
//   HELP      the subcommands, as the proxy serves them.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace redkube::proxy {

struct RequestContext;

void ConfigSetCommand(RequestContext& ctx, std::span<const std::string_view> argv);
void ConfigResetStatCommand(RequestContext& ctx, std::span<const std::string_view> argv);
void ConfigRewriteCommand(RequestContext& ctx, std::span<const std::string_view> argv);
void ConfigHelpCommand(RequestContext& ctx, std::span<const std::string_view> argv);

// The merged CONFIG GET reply: parts[0] (the first shard's master), after
// logging (at most once a minute) the first parameter another part gives a
// different value, among those servers share (not ConfigParameterDiffersPerServer).
void MergeConfigGetReplies(std::span<const std::string> parts, std::string* out);

// The first parameter (and the two values) in which `other` differs from
// `first`, two CONFIG GET replies (RESP2 arrays of name, value); "" when
// they agree on every shared parameter or either is no such array. Pure.
std::string FirstConfigDifference(std::string_view first, std::string_view other);

}  // namespace redkube::proxy
