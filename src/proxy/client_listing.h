// One client as CLIENT LIST and CLIENT INFO show it, in redis-server 7.0's
// field layout and order, and the filters of CLIENT LIST and CLIENT KILL
// (TYPE, ID, ADDR, LADDR, USER, SKIPME, MAXAGE). Both read a ClientSession
// on the thread of the worker that owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/client_state.h"

namespace redkube::proxy {

struct ClientState;

// What CLIENT LIST shows besides ClientState, read from its ClientSession.
struct ClientConnectionView {
  size_t input_bytes = 0;   // qbuf
  size_t output_bytes = 0;  // omem
  bool blocked = false;     // flag b: a blocking command is unanswered
  bool writing = false;     // events=rw: output waits for the socket
};

// redis-server's client types; a proxy client is kPubsub while subscribed,
// else kNormal (a MONITOR client is kNormal too, as on redis-server).
enum class ClientType : uint8_t { kNormal, kReplica, kPubsub, kMaster };

// "normal", "replica" or "slave", "pubsub", "master"; nullopt otherwise.
std::optional<ClientType> ClientTypeByName(std::string_view name);

// "id=... resp=2" without the newline; `now_ms` is the owning worker's clock.
std::string ClientInfoLine(const ClientState& client, const ClientConnectionView& view, int64_t now_ms);

struct ClientFilter {
  std::vector<uint64_t> ids;  // empty: any
  std::optional<ClientType> type;
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  std::optional<std::string> user;  // the proxy's one user is "default"
  int64_t max_age_s = 0;            // 0: any age; else older than this
  uint64_t skip_id = 0;             // SKIPME yes: the asking client (0: none)

  bool Matches(const ClientState& client, int64_t now_ms) const;
};

// CLIENT KILL's arguments (argv[0] is CLIENT) into *filter, or the error
// reply redis-server gives. The old form (CLIENT KILL addr:port) sets
// *old_form and does not skip the asker.
std::optional<std::string> ParseKillFilter(std::span<const std::string_view> argv, uint64_t asker_id,
                                           ClientFilter* filter, bool* old_form);

}  // namespace redkube::proxy
