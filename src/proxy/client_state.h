// What the proxy knows of one client connection, apart from its socket: who
// it is, whether it has authenticated, its name, its MULTI/WATCH state and
// its subscriptions. Owned by the ClientSession; read and changed by the
// commands it sends (through their RequestContext). Worker thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "proxy/client_transaction.h"

namespace redkube::proxy {

// What one client is subscribed to.
struct ClientSubscriptions {
  std::set<std::string, std::less<>> channels;
  std::set<std::string, std::less<>> patterns;
  std::set<std::string, std::less<>> shard_channels;

  // Subscribed mode (RESP2): only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET.
  bool active() const { return !channels.empty() || !patterns.empty() || !shard_channels.empty(); }
};

struct ClientState {
  uint64_t id = 0;
  std::string peer;   // "ip:port" of the client
  std::string local;  // "ip:port" it connected to
  int fd = -1;
  int64_t created_ms = 0;
  int64_t last_read_ms = 0;
  bool authenticated = false;
  // The RESP version the client speaks: 2, or 3 after HELLO 3 (HELLO 2 and
  // RESET go back). Server replies reach it as bytes, so its requests go to
  // server connections that speak the same (BackendPool's RESP3 twins, its
  // own connections); the proxy's own replies take its forms (resp_forms.h).
  int resp = 2;
  bool closing = false;  // reads no more requests (QUIT, an error, shutdown)
  std::string name;
  // A request of this client waits for a key the mover holds (parked, see
  // DispatchOrder::kWaitForTopology): set by the dispatcher for the
  // ClientSession to park it; and until when it may wait (0: not waiting).
  bool held = false;
  int64_t hold_deadline_ms = 0;
  ClientTransaction transaction;
  ClientSubscriptions subscriptions;
  // CLIENT commands (client_commands.h): the last command's CommandIndex
  // (CLIENT LIST's cmd), CLIENT REPLY's mode (ReplyMode bits, 0: replies
  // on), CLIENT NO-EVICT / NO-TOUCH as set, and whether the client is
  // parked by CLIENT PAUSE (its hold deadline is the pause's end).
  uint16_t last_command = 0;
  uint8_t reply_mode = 0;
  bool no_evict = false;
  bool no_touch = false;
  bool paused = false;
};

}  // namespace redkube::proxy
