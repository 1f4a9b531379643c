#include "proxy/subscription_router.h"

#include <vector>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "proxy/client_session.h"
#include "proxy/pending_reply.h"
#include "proxy/pubsub_protocol.h"
#include "proxy/worker.h"

namespace redkube::proxy {
namespace {

std::set<std::string, std::less<>>& SetOf(ClientSubscriptions& s, SubscriptionRouter::Kind kind) {
  switch (kind) {
    case SubscriptionRouter::Kind::kChannel:
      return s.channels;
    case SubscriptionRouter::Kind::kPattern:
      return s.patterns;
    case SubscriptionRouter::Kind::kShardChannel:
      break;
  }
  return s.shard_channels;
}

// The count Redis puts in a confirmation: shard channels are counted apart.
int64_t CountFor(const ClientSubscriptions& s, SubscriptionRouter::Kind kind) {
  if (kind == SubscriptionRouter::Kind::kShardChannel) return static_cast<int64_t>(s.shard_channels.size());
  return static_cast<int64_t>(s.channels.size() + s.patterns.size());
}

std::string_view SubscribeWord(SubscriptionRouter::Kind kind) {
  switch (kind) {
    case SubscriptionRouter::Kind::kChannel:
      return "subscribe";
    case SubscriptionRouter::Kind::kPattern:
      return "psubscribe";
    case SubscriptionRouter::Kind::kShardChannel:
      break;
  }
  return "ssubscribe";
}

std::string_view UnsubscribeWord(SubscriptionRouter::Kind kind) {
  switch (kind) {
    case SubscriptionRouter::Kind::kChannel:
      return "unsubscribe";
    case SubscriptionRouter::Kind::kPattern:
      return "punsubscribe";
    case SubscriptionRouter::Kind::kShardChannel:
      break;
  }
  return "sunsubscribe";
}

}  // namespace

void SubscriptionRouter::SendToShards(ClientSession* client, Kind kind, std::string_view command,
                                      std::string_view name, std::string confirmation) {
  const Topology& topology = worker_->topology();
  std::vector<int> shards;
  if (kind == Kind::kPattern) {
    for (size_t i = 0; i < topology.shards().size(); ++i) shards.push_back(static_cast<int>(i));
  } else {
    shards.push_back(topology.ShardIndexForSlot(KeySlot(name)));
  }
  PendingReply* p = client->NewPending();
  p->fixed = true;
  p->data = std::move(confirmation);
  p->outstanding = static_cast<uint32_t>(shards.size());
  for (int shard : shards) {
    BackendConnection* own = client->OwnBackend(shard);
    own->set_push_owner(client);
    Buffer* out = own->StartSubscriptionRequest(p);
    AppendArrayHeader(out, 2);
    AppendBulk(out, command);
    AppendBulk(out, name);
  }
}

void SubscriptionRouter::Subscribe(ClientSession* client, Kind kind, std::span<const std::string_view> argv) {
  ClientSubscriptions& subs = client->subscriptions();
  auto& set = SetOf(subs, kind);
  for (size_t i = 1; i < argv.size(); ++i) {
    bool added = set.emplace(argv[i]).second;
    std::string confirmation = SubscriptionReply(SubscribeWord(kind), argv[i], CountFor(subs, kind));
    if (!added) {
      client->Reply(confirmation);  // already subscribed: Redis confirms again
      continue;
    }
    SendToShards(client, kind, SubscribeWord(kind), argv[i], std::move(confirmation));
  }
}

void SubscriptionRouter::Unsubscribe(ClientSession* client, Kind kind, std::span<const std::string_view> argv) {
  ClientSubscriptions& subs = client->subscriptions();
  auto& set = SetOf(subs, kind);
  std::vector<std::string> names;
  if (argv.size() > 1) {
    for (size_t i = 1; i < argv.size(); ++i) names.emplace_back(argv[i]);
  } else {
    names.assign(set.begin(), set.end());
    if (names.empty()) {
      client->Reply(SubscriptionReply(UnsubscribeWord(kind), std::nullopt, CountFor(subs, kind)));
      return;
    }
  }
  for (const auto& name : names) {
    bool removed = set.erase(name) > 0;
    std::string confirmation = SubscriptionReply(UnsubscribeWord(kind), name, CountFor(subs, kind));
    if (!removed) {
      client->Reply(confirmation);
      continue;
    }
    SendToShards(client, kind, UnsubscribeWord(kind), name, std::move(confirmation));
  }
}

size_t SubscriptionRouter::Resubscribe(ClientSession* client, int shard, BackendConnection* backend) {
  const Topology& topology = worker_->topology();
  const ClientSubscriptions& subs = client->subscriptions();
  std::vector<std::pair<std::string_view, const std::string*>> requests;
  auto add_if_here = [&](std::string_view command, const std::string& name) {
    if (topology.ShardIndexForSlot(KeySlot(name)) == shard) requests.emplace_back(command, &name);
  };
  for (const auto& c : subs.channels) add_if_here("SUBSCRIBE", c);
  for (const auto& c : subs.shard_channels) add_if_here("SSUBSCRIBE", c);
  for (const auto& p : subs.patterns) requests.emplace_back("PSUBSCRIBE", &p);  // patterns live everywhere
  if (requests.empty()) return 0;
  // A reply slot of no client: the confirmations are dropped when they come.
  PendingReply* p = worker_->pending_pool()->Get();
  p->fixed = true;
  p->outstanding = static_cast<uint32_t>(requests.size());
  for (const auto& [command, name] : requests) {
    Buffer* out = backend->StartSubscriptionRequest(p);
    AppendArrayHeader(out, 2);
    AppendBulk(out, command);
    AppendBulk(out, *name);
  }
  return requests.size();
}

}  // namespace redkube::proxy
