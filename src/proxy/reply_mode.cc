#include "proxy/reply_mode.h"

#include "proxy/command_table.h"
#include "proxy/reply_queue.h"
#include "proxy/routing_table.h"

namespace redkube::proxy {
namespace {

// redis-server answers a monitoring client's reads and writes with this
// (it is a replica of sorts), runs the rest, and ignores a second MONITOR.
bool RefusedWhileMonitoring(RequestContext& ctx, std::span<const std::string_view> argv) {
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  if (spec == nullptr || !ctx.client.authenticated) return false;
  if (spec->name == "monitor") return true;
  // The client's own server connections carry the MONITOR streams: what
  // would take one of them (SUBSCRIBE, WATCH, WAIT, MULTI/EXEC) would read
  // a monitor line as its reply. The proxy refuses those instead.
  const CommandRoute& route = RoutingTable::Instance().For(*spec);
  if (route.route == Route::kSubscribe || route.route == Route::kUnsubscribe || route.route == Route::kWait ||
      route.transaction != TransactionCommand::kNone ||
      (route.route != Route::kLocal && route.UsesOwnConnection(argv, false))) {
    ctx.replies.Add(RefusalError(*spec, "not in MONITOR mode (RESET ends it)"));
    return true;
  }
  if (!spec->Has(kFlagWrite) && !spec->Has(kFlagReadonly) && !spec->Has(kFlagMayReplicate)) return false;
  ctx.replies.Add("-ERR Replica can't interact with the keyspace\r\n");
  return true;
}

}  // namespace

DispatchOrder HandleUnderReplyMode(RequestHandler& handler, RequestContext& ctx,
                                   std::span<const std::string_view> argv, std::string_view raw) {
  uint8_t& mode = ctx.client.reply_mode;
  if ((mode & kMonitoring) && RefusedWhileMonitoring(ctx, argv)) return DispatchOrder::kGoOn;
  const uint8_t before = mode;
  // This is the command SKIP was about: it runs "skipping"; a SKIP it is
  // itself sets kReplySkipNext again (SKIP SKIP drops two replies).
  if (mode & kReplySkipNext) mode = static_cast<uint8_t>((mode & ~kReplySkipNext) | kReplySkipping);
  const ReplyQueue::Mark mark = ctx.replies.MarkEnd();
  const DispatchOrder order = handler.Handle(ctx, argv, raw);
  if (order == DispatchOrder::kRetryAfterReplies || order == DispatchOrder::kWaitForTopology) {
    mode = before;  // nothing ran: it is dispatched again later
    return order;
  }
  if (mode & (kReplyOff | kReplySkipping)) ctx.replies.SilenceSince(mark);
  mode = static_cast<uint8_t>(mode & ~kReplySkipping);
  return order;
}

}  // namespace redkube::proxy
