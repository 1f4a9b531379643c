// LATENCY, MEMORY and ACL through the proxy (local handlers of the
// FindLocalCommand table). What each subcommand does, and why:
//   LATENCY LATEST, HISTORY   every master, merged (admin_replies.h)
//   LATENCY RESET             every master, the counts summed
//   LATENCY DOCTOR, GRAPH     every master's text, labelled by shard
//   LATENCY HISTOGRAM         the proxy's own per-command latencies
//                             (parsed -> reply queued), as redis-server's
//   LATENCY HELP              one master's
//   MEMORY STATS              every master, summed / recomputed
//   MEMORY DOCTOR, MALLOC-STATS  every master's text, labelled
//   MEMORY PURGE              every master, +OK
//   ACL WHOAMI                "default": the proxy's one user
//   ACL CAT, GENPASS, HELP    one master's (the same on every server)
//   other ACL subcommands     refused: the proxy has one user and password
// MEMORY USAGE and OBJECT are keyed: routed by slot like any keyed command.
#pragma once

#include <span>
#include <string_view>

namespace redkube::proxy {

struct RequestContext;
using AdminArgv = std::span<const std::string_view>;

void LatencyLatest(RequestContext& ctx, AdminArgv argv);
void LatencyHistory(RequestContext& ctx, AdminArgv argv);
void LatencyReset(RequestContext& ctx, AdminArgv argv);
void LatencyPerShardText(RequestContext& ctx, AdminArgv argv);  // DOCTOR, GRAPH
void LatencyHistogramCommand(RequestContext& ctx, AdminArgv argv);
void MemoryStats(RequestContext& ctx, AdminArgv argv);
void MemoryPerShardText(RequestContext& ctx, AdminArgv argv);  // DOCTOR, MALLOC-STATS
void MemoryPurge(RequestContext& ctx, AdminArgv argv);
void AclWhoami(RequestContext& ctx, AdminArgv argv);
void AclUsers(RequestContext& ctx, AdminArgv argv);
void AnyMaster(RequestContext& ctx, AdminArgv argv);  // ACL CAT, LATENCY HELP...
void AclRefused(RequestContext& ctx, AdminArgv argv);

}  // namespace redkube::proxy
