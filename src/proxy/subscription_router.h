// Pub/sub through the proxy. A channel lives on the shard that owns its
// name's slot (as Redis Cluster's sharded pub/sub does), so PUBLISH goes to
// that one shard and SUBSCRIBE subscribes there; a pattern can match
// channels of every shard, so PSUBSCRIBE subscribes on all of them. Each
// message therefore reaches each subscription exactly once, whichever proxy
// the publisher and the subscriber use. Subscriptions ride on the client's
// own backend connections; the proxy words the confirmations itself (their
// counts are the client's) and passes messages through as they come.
#pragma once

#include <set>
#include <span>
#include <string>
#include <string_view>

namespace redkube::proxy {

class BackendConnection;
class ClientSession;
class Worker;

// What one client is subscribed to.
struct ClientSubscriptions {
  std::set<std::string, std::less<>> channels;
  std::set<std::string, std::less<>> patterns;
  std::set<std::string, std::less<>> shard_channels;

  // Subscribed mode (RESP2): only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET.
  bool active() const { return !channels.empty() || !patterns.empty() || !shard_channels.empty(); }
};

class SubscriptionRouter {
 public:
  enum class Kind { kChannel, kPattern, kShardChannel };

  explicit SubscriptionRouter(Worker* worker) : worker_(worker) {}

  // SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE name [name ...]
  void Subscribe(ClientSession* client, Kind kind, std::span<const std::string_view> argv);
  // UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE [name ...] (none: all of them)
  void Unsubscribe(ClientSession* client, Kind kind, std::span<const std::string_view> argv);
  // Subscribes `backend` (the client's own connection to shard `shard`'s
  // master) to everything of the client's that lives on that shard, after the
  // connection that had them was lost. The client gets no confirmations: as
  // far as it knows it never left. Returns how many (P|S)SUBSCRIBEs were sent.
  size_t Resubscribe(ClientSession* client, int shard, BackendConnection* backend);

 private:
  // Sends `command name` to the shards `name` lives on, with a reply slot
  // that gives the client `confirmation` once they all answered.
  void SendToShards(ClientSession* client, Kind kind, std::string_view command, std::string_view name,
                    std::string confirmation);

  Worker* worker_;
};

}  // namespace redkube::proxy
