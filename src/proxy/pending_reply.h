// A reply a client is owed, in request order. Requests answered by one
// backend reply pass its bytes straight to the client when they are next in
// line; split and fan-out requests collect their parts in a ReplyMerger.
// Owned by the worker's PendingReplyPool; shared by the client's reply queue
// and the backend connections that still owe parts of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/reply_merger.h"

namespace redkube::proxy {

class ClientSession;

struct PendingReply {
  PendingReply* next = nullptr;      // next in the client's reply queue
  ClientSession* client = nullptr;   // nullptr once the client has gone
  std::string data;                  // the reply, when it had to wait its turn
  std::unique_ptr<ReplyMerger> merger;  // set for split and fan-out requests
  bool merging = false;              // whether merger is in use for this reply
  uint32_t outstanding = 0;          // backend replies still expected
  bool done = false;
  bool close_after = false;          // QUIT: close the client once this is sent
  // The client gets `data` (set in advance) once every part has answered,
  // whatever they said unless it was an error: a subscription confirmation
  // the proxy words itself (its counts are the client's, not a backend's).
  bool fixed = false;
  uint16_t command = 0;  // CommandIndex + 1 of the request, for its stats; 0: none
  int64_t start_us = 0;  // when the request was parsed (loop clock)
  // The request's arguments, kept (SlowLogArgs) in case it turns out slow.
  std::string slowlog_args;
  bool blocks = false;  // waited on a server by design (BLPOP, WAIT): not slow
};

// A free list of PendingReply objects, so the request path allocates nothing
// once warm. One per worker thread.
class PendingReplyPool {
 public:
  ~PendingReplyPool() {
    for (PendingReply* p : free_) delete p;
  }
  PendingReply* Get() {
    if (free_.empty()) return new PendingReply();
    PendingReply* p = free_.back();
    free_.pop_back();
    return p;
  }
  void Put(PendingReply* p) {
    p->next = nullptr;
    p->client = nullptr;
    p->outstanding = 0;
    p->done = false;
    p->close_after = false;
    p->merging = false;
    p->fixed = false;
    p->command = 0;
    p->blocks = false;
    // Keep small buffers for reuse, free big ones.
    if (p->data.capacity() > 64 * 1024) {
      std::string().swap(p->data);
    } else {
      p->data.clear();
    }
    if (free_.size() >= kMaxFree) {
      delete p;
      return;
    }
    free_.push_back(p);
  }

 private:
  static constexpr size_t kMaxFree = 64 * 1024;
  std::vector<PendingReply*> free_;
};

}  // namespace redkube::proxy
