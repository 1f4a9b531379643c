#include "proxy/subscription_router.h"

#include <string>
#include <vector>

#include "core/reply_scanner.h"
#include "proxy/client_backends.h"
#include "proxy/pubsub_protocol.h"
#include "proxy/reply_queue.h"

namespace redkube::proxy {
namespace {

std::set<std::string, std::less<>>& SetOf(ClientSubscriptions& s, SubscriptionKind kind) {
  switch (kind) {
    case SubscriptionKind::kChannel:
      return s.channels;
    case SubscriptionKind::kPattern:
      return s.patterns;
    case SubscriptionKind::kShardChannel:
      break;
  }
  return s.shard_channels;
}

// The count Redis puts in a confirmation: shard channels are counted apart.
int64_t CountFor(const ClientSubscriptions& s, SubscriptionKind kind) {
  if (kind == SubscriptionKind::kShardChannel) return static_cast<int64_t>(s.shard_channels.size());
  return static_cast<int64_t>(s.channels.size() + s.patterns.size());
}

std::string_view SubscribeWord(SubscriptionKind kind) {
  switch (kind) {
    case SubscriptionKind::kChannel:
      return "subscribe";
    case SubscriptionKind::kPattern:
      return "psubscribe";
    case SubscriptionKind::kShardChannel:
      break;
  }
  return "ssubscribe";
}

std::string_view UnsubscribeWord(SubscriptionKind kind) {
  switch (kind) {
    case SubscriptionKind::kChannel:
      return "unsubscribe";
    case SubscriptionKind::kPattern:
      return "punsubscribe";
    case SubscriptionKind::kShardChannel:
      break;
  }
  return "sunsubscribe";
}

// Sends `command name` to the shards `name` lives on, with a reply slot
// that gives the client `confirmation` once they all answered.
void SendToShards(RequestContext& ctx, SubscriptionKind kind, std::string_view command, std::string_view name,
                  std::string confirmation) {
  const SlotRouter& router = ctx.router();
  int channel_shards[2];
  int count =
      kind == SubscriptionKind::kPattern ? router.shard_count() : router.ChannelShards(name, channel_shards);
  PendingReply* p = ctx.replies.OpenFixed(std::move(confirmation), static_cast<uint32_t>(count));
  for (int i = 0; i < count; ++i) {
    int shard = kind == SubscriptionKind::kPattern ? i : channel_shards[i];
    SendSubscriptionRequest(ctx.own.ForSubscriptions(shard), p, command, name);
  }
}

}  // namespace

void SendSubscriptionRequest(BackendConnection* backend, PendingReply* pending, std::string_view command,
                             std::string_view name) {
  Buffer* out = backend->StartSubscriptionRequest(pending);
  AppendArrayHeader(out, 2);
  AppendBulk(out, command);
  AppendBulk(out, name);
}

void Subscribe(RequestContext& ctx, SubscriptionKind kind, std::span<const std::string_view> argv) {
  ctx.own.CatchUp();
  ClientSubscriptions& subs = ctx.client.subscriptions;
  auto& set = SetOf(subs, kind);
  for (size_t i = 1; i < argv.size(); ++i) {
    bool added = set.emplace(argv[i]).second;
    std::string confirmation =
        SubscriptionReply(SubscribeWord(kind), argv[i], CountFor(subs, kind), ctx.client.resp);
    if (!added) {
      ctx.replies.Add(confirmation);  // already subscribed: Redis confirms again
      continue;
    }
    SendToShards(ctx, kind, SubscribeWord(kind), argv[i], std::move(confirmation));
  }
}

void Unsubscribe(RequestContext& ctx, SubscriptionKind kind, std::span<const std::string_view> argv) {
  ctx.own.CatchUp();
  ClientSubscriptions& subs = ctx.client.subscriptions;
  auto& set = SetOf(subs, kind);
  std::vector<std::string> names;
  if (argv.size() > 1) {
    for (size_t i = 1; i < argv.size(); ++i) names.emplace_back(argv[i]);
  } else {
    names.assign(set.begin(), set.end());
    if (names.empty()) {
      ctx.replies.Add(
          SubscriptionReply(UnsubscribeWord(kind), std::nullopt, CountFor(subs, kind), ctx.client.resp));
      return;
    }
  }
  for (const auto& name : names) {
    bool removed = set.erase(name) > 0;
    std::string confirmation =
        SubscriptionReply(UnsubscribeWord(kind), name, CountFor(subs, kind), ctx.client.resp);
    if (!removed) {
      ctx.replies.Add(confirmation);
      continue;
    }
    SendToShards(ctx, kind, UnsubscribeWord(kind), name, std::move(confirmation));
  }
}

size_t ResubscribeShard(const SlotRouter& router, const ClientSubscriptions& subs, int shard,
                        BackendConnection* backend, PendingReplyPool* pool) {
  std::vector<std::pair<std::string_view, const std::string*>> requests;
  auto add_if_here = [&](std::string_view command, const std::string& name) {
    int shards[2];
    int n = router.ChannelShards(name, shards);
    for (int i = 0; i < n; ++i) {
      if (shards[i] == shard) requests.emplace_back(command, &name);
    }
  };
  for (const auto& c : subs.channels) add_if_here("SUBSCRIBE", c);
  for (const auto& c : subs.shard_channels) add_if_here("SSUBSCRIBE", c);
  for (const auto& p : subs.patterns) requests.emplace_back("PSUBSCRIBE", &p);  // patterns live everywhere
  if (requests.empty()) return 0;
  // A reply slot of no client: the confirmations are dropped when they come.
  PendingReply* p = pool->Dropped(static_cast<uint32_t>(requests.size()));
  for (const auto& [command, name] : requests) SendSubscriptionRequest(backend, p, command, *name);
  return requests.size();
}

}  // namespace redkube::proxy
