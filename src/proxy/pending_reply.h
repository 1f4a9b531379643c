// A reply a client is owed: one slot of its ReplyQueue, in request order.
// Requests answered by one backend reply pass its bytes straight to the
// client when they are next in line; split and fan-out requests collect
// their parts in a ReplyMerger; a request of two steps (hand a moving key
// over, then run the command where it went) carries the step to run when
// the first reply arrives.
//
// Owned by the worker's PendingReplyPool. While a backend still owes it a
// reply it is shared by that BackendConnection and the client's ReplyQueue;
// the queue is the only code that completes or frees it (or, once the
// client has gone, the worker frees it when the last reply arrives).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/reply_merger.h"

namespace redkube::proxy {

class ReplyQueue;
struct PendingReply;

// The second step of a two-step request. One object per worker serves
// every request of its kind; what a request needs for its step is kept in
// its PendingReply (step_request, step_slot), so a step allocates nothing.
class RequestStep {
 public:
  virtual ~RequestStep() = default;
  // The first step's reply arrived. Returns true when the step sent the
  // next request for `pending` (whose reply then arrives like the first);
  // false when *reply is what the client gets (the step may point it at an
  // answer of its own, kept in pending->step_request).
  virtual bool Continue(PendingReply* pending, std::string_view* reply) = 0;
};

struct PendingReply {
  PendingReply* next = nullptr;         // next in the client's reply queue
  ReplyQueue* queue = nullptr;          // nullptr once the client has gone (or for the proxy's own)
  std::string data;                     // the reply, when it had to wait its turn
  std::unique_ptr<ReplyMerger> merger;  // set for split and fan-out requests
  bool merging = false;                 // whether merger is in use for this reply
  uint32_t outstanding = 0;             // backend replies still expected
  bool done = false;
  bool close_after = false;  // QUIT: close the client once this is sent
  // The client gets `data` (set in advance) once every part has answered,
  // whatever they said unless it was an error: a subscription confirmation
  // the proxy words itself (its counts are the client's, not a backend's).
  bool fixed = false;
  bool blocks = false;   // waited on a server by design (BLPOP, WAIT): not slow
  bool silent = false;   // CLIENT REPLY OFF/SKIP: `fixed` to nothing, errors included
  uint16_t command = 0;  // CommandIndex + 1 of the request, for its stats; 0: none
  int64_t start_us = 0;  // when the request was parsed (loop clock)
  // The request's arguments, kept (SlowLogArgs) in case it turns out slow.
  std::string slowlog_args;
  // Two-step requests: the step to run on the first reply, the request it
  // sends, the slot it is for and the shard (id) its keys were sent to.
  RequestStep* next_step = nullptr;
  std::string step_request;
  std::string step_target;
  uint16_t step_slot = 0;
  uint8_t step_resp = 2;  // the client's RESP version (the importer's reply is its)
  // Replies to the second step's request that come before the client's
  // (a transaction's MULTI and QUEUED), dropped.
  uint32_t step_dropped_replies = 0;
  // A two-step part of a split request (MGET of keys of a moving slot and
  // others): this slot is in no queue; its final reply is part
  // `parent_part` of `parent`, the client's, and it is freed then.
  PendingReply* parent = nullptr;
  uint32_t parent_part = 0;
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
    p->queue = nullptr;
    p->outstanding = 0;
    p->done = false;
    p->close_after = false;
    p->merging = false;
    p->fixed = false;
    p->command = 0;
    p->blocks = false;
    p->silent = false;
    p->next_step = nullptr;
    p->step_dropped_replies = 0;
    p->step_resp = 2;
    p->parent = nullptr;
    p->parent_part = 0;
    // Keep small buffers for reuse, free big ones.
    KeepSmall(&p->data);
    KeepSmall(&p->step_request);
    p->step_target.clear();
    if (free_.size() >= kMaxFree) {
      delete p;
      return;
    }
    free_.push_back(p);
  }
  // A slot in no client's queue whose `count` replies are dropped when they
  // come (MULTI's +OK, each +QUEUED, UNWATCH's +OK, resubscriptions).
  PendingReply* Dropped(uint32_t count) {
    PendingReply* p = Get();
    p->outstanding = count;
    return p;
  }

 private:
  static void KeepSmall(std::string* s) {
    if (s->capacity() > 64 * 1024) {
      std::string().swap(*s);
    } else {
      s->clear();
    }
  }
  static constexpr size_t kMaxFree = 64 * 1024;
  std::vector<PendingReply*> free_;
};

}  // namespace redkube::proxy
