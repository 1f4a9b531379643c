// Pub/sub through the proxy. A channel lives on the shard that owns its
// name's slot (as Redis Cluster's sharded pub/sub does), so PUBLISH goes to
// that one shard and SUBSCRIBE subscribes there (and, while the slot moves,
// on the importing shard too: SlotRouter::ChannelShards); a pattern can
// match channels of every shard, so PSUBSCRIBE subscribes on all of them.
// Each message therefore reaches each subscription exactly once, whichever
// proxy the publisher and the subscriber use. Subscriptions ride on the
// client's own backend connections (ClientBackends, which also keeps them
// in place as the topology changes); the proxy words the confirmations
// itself (their counts are the client's) and passes messages through as
// they come.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "proxy/client_state.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

enum class SubscriptionKind { kChannel, kPattern, kShardChannel };

// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE name [name ...]
void Subscribe(RequestContext& ctx, SubscriptionKind kind, std::span<const std::string_view> argv);
// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE [name ...] (none: all of them)
void Unsubscribe(RequestContext& ctx, SubscriptionKind kind, std::span<const std::string_view> argv);

// Subscribes `backend` (a connection to shard `shard`'s master) to
// everything of `subs` that lives on that shard, after the connection that
// had them was lost. The client gets no confirmations: as far as it knows
// it never left. Returns how many (P|S)SUBSCRIBEs were sent.
size_t ResubscribeShard(const SlotRouter& router, const ClientSubscriptions& subs, int shard,
                        BackendConnection* backend, PendingReplyPool* pool);

// One `command name` ((P|S)(UN)SUBSCRIBE) on `backend`, answered to `pending`.
void SendSubscriptionRequest(BackendConnection* backend, PendingReply* pending, std::string_view command,
                             std::string_view name);

}  // namespace redkube::proxy
