// A client's MULTI/WATCH state. Through the proxy a transaction runs on one
// shard, as in Redis Cluster: every key it (and WATCH) names must hash to
// one slot. The proxy queues the commands itself, answering +QUEUED, and at
// EXEC writes MULTI, the commands and EXEC at once on the client's own
// connection to that slot's shard, which is also where WATCH went; only the
// EXEC reply reaches the client. Owned by the ClientSession.
#pragma once

#include <cstdint>
#include <string>

namespace redkube::proxy {

struct ClientTransaction {
  bool in_multi = false;
  bool aborted = false;        // a command was refused while queuing: EXEC answers EXECABORT
  int slot = -1;               // the one slot of every key so far; -1: none yet
  std::string watch_master;    // "host:port" whose connection holds the WATCH; empty: none
  uint64_t watch_session = 0;  // BackendConnection::session() that got the first WATCH; 0: none
  std::string queued;          // RESP of the queued commands
  uint32_t count = 0;          // how many

  void Clear() {
    in_multi = aborted = false;
    slot = -1;
    watch_master.clear();
    watch_session = 0;
    queued.clear();
    count = 0;
  }
};

}  // namespace redkube::proxy
