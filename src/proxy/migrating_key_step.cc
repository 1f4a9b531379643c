#include "proxy/migrating_key_step.h"

#include <fmt/format.h>

#include "core/reply_scanner.h"
#include "proxy/backend_pool.h"
#include "proxy/event_loop.h"
#include "proxy/proxy_options.h"
#include "proxy/reply_queue.h"
#include "proxy/request_bytes.h"

namespace redkube::proxy {

bool MigratingKeyStep::IsBusyKey(std::string_view reply) {
  // redis-server relays the target's refusal of a key it already holds.
  return reply.starts_with("-ERR Target instance replied with error: BUSYKEY");
}

void MigratingKeyStep::AppendMigrate(Buffer* out, const HostPort& target, const std::string& password,
                                     int timeout_ms, std::span<const std::string_view> argv,
                                     std::span<const uint32_t> keys) {
  // MIGRATE host port "" 0 timeout [AUTH password] KEYS key...  (no REPLACE: see the header)
  char port[8];
  auto port_end = fmt::format_to_n(port, sizeof(port), "{}", target.port);
  char timeout[16];
  auto timeout_end = fmt::format_to_n(timeout, sizeof(timeout), "{}", timeout_ms);
  AppendArrayHeader(out, static_cast<int64_t>(6 + (password.empty() ? 0 : 2) + 1 + keys.size()));
  AppendBulk(out, "MIGRATE");
  AppendBulk(out, target.host);
  AppendBulk(out, std::string_view(port, port_end.size));
  AppendBulk(out, "");
  AppendBulk(out, "0");
  AppendBulk(out, std::string_view(timeout, timeout_end.size));
  if (!password.empty()) {
    AppendBulk(out, "AUTH");
    AppendBulk(out, password);
  }
  AppendBulk(out, "KEYS");
  for (uint32_t k : keys) AppendBulk(out, argv[k]);
}

bool WaitIfHeld(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
                std::span<const uint32_t> keys) {
  if (!ctx.router().AnyHeld(slot, argv, keys)) return false;
  ClientState& client = ctx.client;
  const int64_t now = ctx.worker.loop->now_ms();
  if (client.hold_deadline_ms == 0) client.hold_deadline_ms = now + ctx.worker.options->hold_timeout_ms;
  if (now >= client.hold_deadline_ms) {
    client.hold_deadline_ms = 0;
    ctx.replies.Add("-TRYAGAIN key is being moved to another shard, retry\r\n");
    return true;
  }
  client.held = true;
  return true;
}

PendingReply* MigratingKeyStep::Open(RequestContext& ctx, uint16_t slot,
                                     std::span<const std::string_view> argv, std::span<const uint32_t> keys) {
  PendingReply* p = ctx.replies.Open(1);
  WriteFirstStep(ctx, p, slot, argv, keys);
  return p;
}

void MigratingKeyStep::StartPart(RequestContext& ctx, PendingReply* parent, uint32_t part, uint16_t slot,
                                 std::span<const std::string_view> argv, std::span<const uint32_t> keys,
                                 size_t stride) {
  PendingReply* p = worker_->pending_pool->Get();
  p->parent = parent;
  p->parent_part = part;
  p->outstanding = 1;
  WriteFirstStep(ctx, p, slot, argv, keys);
  // The part's own command: argv[0] and each key's `stride` arguments.
  AppendArrayHeader(&p->step_request, static_cast<int64_t>(1 + keys.size() * stride));
  AppendBulk(&p->step_request, argv[0]);
  for (uint32_t k : keys) {
    for (size_t i = 0; i < stride; ++i) AppendBulk(&p->step_request, argv[k + i]);
  }
}

void MigratingKeyStep::WriteFirstStep(RequestContext& ctx, PendingReply* p, uint16_t slot,
                                      std::span<const std::string_view> argv,
                                      std::span<const uint32_t> keys) {
  const SlotRouter& router = ctx.router();
  const Shard& target = router.shard(router.ImporterOf(slot));
  p->next_step = this;
  p->step_slot = slot;
  p->step_target = target.id;
  p->step_request.clear();
  p->step_resp = static_cast<uint8_t>(ctx.client.resp);
  ctx.replies.StepStarted();
  const BackendOptions& backend = worker_->options->backend;
  BackendConnection* source = worker_->backends->Master(router.OwnerOf(slot));
  AppendMigrate(source->StartRequest(p, 0), target.master, backend.password,
                MigrateTimeoutMs(backend.reply_timeout_ms), argv, keys);
}

void MigratingKeyStep::Start(RequestContext& ctx, uint16_t slot, std::span<const std::string_view> argv,
                             std::span<const uint32_t> keys, std::string_view raw) {
  PendingReply* p = Open(ctx, slot, argv, keys);
  // The second step's request is kept as bytes: the client's argv does not
  // outlive this call.
  AppendRequest(&p->step_request, argv, raw);
}

void MigratingKeyStep::StartTransaction(RequestContext& ctx, uint16_t slot,
                                        std::span<const std::string_view> argv,
                                        std::span<const uint32_t> keys, std::string_view queued,
                                        uint32_t count) {
  PendingReply* p = Open(ctx, slot, argv, keys);
  // Written at once on the importer's shared connection, so no other
  // request comes between MULTI and EXEC there; MULTI's +OK and each
  // +QUEUED are dropped, EXEC's reply is the client's.
  p->step_request.append("*1\r\n$5\r\nMULTI\r\n");
  p->step_request.append(queued);
  p->step_request.append("*1\r\n$4\r\nEXEC\r\n");
  p->step_dropped_replies = count + 1;
}

bool MigratingKeyStep::Continue(PendingReply* p, std::string_view* reply) {
  const SlotRouter& router = *worker_->router;
  const uint16_t slot = p->step_slot;
  if (IsErrorReply(*reply) && !IsBusyKey(*reply)) {
    // Not handed over: the key may still be on the source. Running the
    // request on the target now would fork it; the client retries.
    std::string_view reason = reply->substr(1, reply->size() - 3);
    if (reason.starts_with("TRYAGAIN ")) reason.remove_prefix(9);
    p->step_request = fmt::format("-TRYAGAIN slot {} is moving and its keys could not be handed over: {}\r\n",
                                  slot, reason);
    *reply = p->step_request;
    return false;
  }
  // The keys went to the importer of the moment of the first step. It is
  // still where they are served if the migration goes on or ended with the
  // flip (it owns the slot then); if the migration was cancelled or sent
  // elsewhere meanwhile, running the request anywhere else would fork the
  // keys: the client retries once the move is sorted out.
  const int target = router.IndexOf(p->step_target);
  if (target < 0 || (router.ImporterOf(slot) != target && router.OwnerOf(slot) != target)) {
    p->step_request =
        fmt::format("-TRYAGAIN slot {} changed hands while its keys were handed over to {}; try again\r\n",
                    slot, p->step_target);
    *reply = p->step_request;
    return false;
  }
  BackendConnection* importer = worker_->backends->Master(target, p->step_resp);
  if (p->step_dropped_replies > 0) {
    PendingReply* dropped = worker_->pending_pool->Dropped(p->step_dropped_replies);
    for (uint32_t i = 0; i < p->step_dropped_replies; ++i) importer->StartRequest(dropped, 0);
  }
  importer->StartRequest(p, 0)->Append(p->step_request);
  return true;
}

}  // namespace redkube::proxy
