// A client's own connections to servers, for what cannot share the worker's
// pipelined ones: blocking commands (a blocked client must delay no one
// else), WATCH/MULTI/EXEC and WAIT (their state lives on a connection), and
// subscriptions (a subscribed connection carries pushes). Created on first
// use, one per server, closed with the client.
//
// It also keeps the client's subscriptions where they must be while the
// topology changes under them:
//  - lost: a subscribed connection failed (its server died, restarted, or
//    was replaced by a failover). They are made again in the background on
//    the shard's master of the moment, retried until it answers; the client
//    stays connected and subscribed. Messages published on that shard
//    meanwhile are missed, as pub/sub promises no delivery to a subscriber
//    that is not connected.
//  - moved: a channel's slot went to another shard (a topology edit, the
//    last epoch of a migration) while the masters stayed. The channel is
//    subscribed where it now lives and unsubscribed where it was. While the
//    slot is in a migration it is subscribed on both sides, so that the
//    flip loses nothing for subscribers whose proxy saw the migration.
//  - left behind: a server that is no longer its shard's master.
// Owned by the ClientSession. Worker thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/backend_connection.h"
#include "proxy/client_state.h"
#include "proxy/request_context.h"

namespace redkube::proxy {

class ReplyQueue;

class ClientBackends {
 public:
  ClientBackends(WorkerContext* worker, ClientState* client, ReplyQueue* replies)
      : worker_(worker), client_(client), replies_(replies) {}
  ~ClientBackends() { DropAll(); }
  ClientBackends(const ClientBackends&) = delete;
  ClientBackends& operator=(const ClientBackends&) = delete;

  // The client's connection to shard `shard`'s master (current topology);
  // fenced while the shard is (BackendConnection::Fence), unless it carries
  // the client's subscriptions.
  BackendConnection* ForShard(int shard);
  // After a topology is applied, before the worker records its epoch: the
  // connections (other than subscribed ones) to the master of a shard the
  // topology fences are closed, what they owe answered -TRYAGAIN (a BLPOP
  // blocked there ends), so that nothing of the client's is in flight there.
  void RetireFenced();
  // The same, carrying the client's subscriptions: its pushes reach the client.
  BackendConnection* ForSubscriptions(int shard);
  // The connection to `master` ("host:port"), if the client has one.
  BackendConnection* Find(const std::string& master);
  // Places the client's subscriptions by the current routing if the
  // topology changed since they were placed (Tick does it too; a
  // (un)subscribe calls it first, so that it reaches where they are).
  void CatchUp();
  // Whether a request on one of them is unanswered (blocked: not idle).
  bool AnyInFlight() const;
  // CLIENT UNBLOCK of this client: each connection with a request
  // unanswered is named to its server in `CLIENT UNBLOCK <server id>
  // TIMEOUT|ERROR`, sent once on the worker's shared connection to that
  // server. The server answers the blocked request (its timeout reply, or
  // -UNBLOCKED) on this connection, as it would have to a client of its
  // own, so nothing it popped is lost. How many connections it concerns.
  //
  // The UNBLOCK is for the oldest request of the client's owed on the
  // connection when it was asked for (BackendConnection::
  // OldestClientReply), the one the server holds blocked, and is sent once
  // the connection's server id is known (its CLIENT ID answered, waited for
  // kUnblockWaitMs at most). Once that request is answered nothing is
  // sent. Two windows remain, both because the UNBLOCK and the request
  // travel on different connections: an UNBLOCK sent within microseconds
  // of the request may be read first (answered :0 by the server; the client
  // stays blocked, as on redis-server had the UNBLOCK come first), and one
  // held up on a busy shared connection may arrive after the request was
  // served and the client's next one blocked there (that one is unblocked).
  int UnblockOnServers(bool with_error);
  static constexpr int64_t kUnblockWaitMs = 1000;
  // HELLO changed the client's protocol: every one says HELLO `resp` too
  // (replies and pushes on them reach the client as bytes).
  void SetProtocol(int resp) {
    for (auto& own : own_) own.backend->SetProtocol(resp);
  }
  // Closes every one (RESET, close): blocked commands, WATCH and
  // subscriptions end with them on the servers.
  void DropAll();

  // Periodic: the connections' timeouts and reconnects, and the upkeep of
  // subscriptions after a topology change or a lost connection.
  void Tick();
  // From the worker, for a connection of this client's.
  void OnPush(std::string_view message);
  void OnSubscriptionsLost(BackendConnection* backend);

 private:
  struct OwnConnection {
    std::unique_ptr<BackendConnection> backend;
    std::string shard_id;  // the shard whose master it was opened to
  };
  // Subscriptions of one shard being restored after their connection failed.
  struct LostSubscriptions {
    BackendConnection* restoring = nullptr;  // where they are being sent again
    int64_t next_attempt_ms = 0;
    int retry_delay_ms = 0;
    bool moved_here = false;  // not lost: channels that moved to this shard
  };

  // After a topology change, on servers that are no longer their shard's
  // master: subscriptions are marked lost, to be made on the master; owed
  // requests are answered -TRYAGAIN and their connection closed.
  void LeaveFormerMasters();
  // After a topology change: channels whose slot moved follow it.
  void FollowChannels(const SlotRouter& before, const SlotRouter& now);
  void RestoreLostSubscriptions();
  OwnConnection* FindByShard(const std::string& shard_id);
  // The client's connection to shard `shard`'s master, made if needed.
  BackendConnection* Own(int shard);
  // A subscribed connection, left out of fences (see ForShard).
  bool HoldsSubscriptions(const BackendConnection* backend) const;
  // An UNBLOCK not sent yet (UnblockOnServers). `backend` is one of own_:
  // Retire and DropAll, the only places that close one, drop its entries.
  struct Unblocking {
    BackendConnection* backend;
    uint64_t session;
    uint64_t target_reply;  // the blocked request: the connection's reply number
    bool with_error;
    int64_t until_ms;
  };
  // Sends the UNBLOCKs that can be sent now; drops those sent, answered,
  // gone or expired.
  void ContinueUnblocking();
  // Sends `u`'s UNBLOCK if it can be sent now; whether `u` is done with.
  bool TrySendUnblock(const Unblocking& u);
  // Closes one (at the end of this loop iteration); what it owes is
  // answered with an error naming `why`.
  void Retire(BackendConnection* backend, const std::string& why = "the client disconnected");

  WorkerContext* worker_;
  ClientState* client_;
  ReplyQueue* replies_;
  std::vector<OwnConnection> own_;
  std::map<std::string, LostSubscriptions> lost_;  // by shard id
  std::vector<Unblocking> unblocking_;
  // The routing the subscriptions were last placed by.
  std::shared_ptr<const SlotRouter> placed_by_;
  uint64_t checked_generation_ = 0;
};

}  // namespace redkube::proxy
