// The replies one client is owed, in the order of its requests, however
// many backends answer them and in whatever order they do. The queue alone
// creates, completes and frees a client's reply slots (PendingReply):
// requests open slots, backends complete them, and every slot that is done
// and next in line is written to the client's output buffer.
//
// Owned by the ClientSession, which tells it about its output (Owner).
// Worker thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/buffer.h"
#include "proxy/client_state.h"
#include "proxy/pending_reply.h"
#include "proxy/reply_merger.h"
#include "proxy/request_recorder.h"

namespace redkube::proxy {

class ReplyQueue {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    // Replies were appended to the output buffer.
    virtual void OnRepliesWritten() = 0;
    // A reply that ends the connection was queued (QUIT, a fatal error):
    // read no more requests.
    virtual void OnClosing() = 0;
    // That reply is in the output buffer: close once it is written.
    virtual void OnFinalReplyWritten() = 0;
  };

  ReplyQueue(PendingReplyPool* pool, RequestRecorder* recorder, const ClientState* client, Buffer* output,
             Owner* owner)
      : pool_(pool), recorder_(recorder), client_(client), output_(output), owner_(owner) {}
  ~ReplyQueue() { Close(); }
  ReplyQueue(const ReplyQueue&) = delete;
  ReplyQueue& operator=(const ReplyQueue&) = delete;

  // A slot at the end of the queue for a request whose `parts` replies come
  // from backends.
  PendingReply* Open(uint32_t parts = 1);
  // ... whose parts are combined by a merger of `kind`.
  PendingReply* OpenMerged(ReplyMerger::Kind kind, uint32_t parts);
  // ... that answers `reply` once every part has come, unless one is an
  // error (subscription confirmations the proxy words itself).
  PendingReply* OpenFixed(std::string reply, uint32_t parts);

  // A reply the proxy makes itself, placed after every earlier one.
  void Add(std::string_view resp);
  // The same, and the connection closes once it is written (QUIT).
  void AddFinal(std::string_view resp);
  // The client closes once the last reply owed now is written (EOF read
  // while replies are owed). False if none is owed.
  bool CloseAfterLast();
  // The client closes once `p` (a slot of this queue) is written, and reads
  // no more requests from now on (CLIENT KILL of the asker itself).
  void CloseAfter(PendingReply* p) {
    p->close_after = true;
    owner_->OnClosing();
  }

  // A backend's reply for part `part` of `p` (a slot of this queue).
  void Complete(PendingReply* p, uint32_t part, std::string_view reply);

  // The client has gone: slots that backends still owe replies to are left
  // to the worker (freed when their last reply arrives), the rest freed now.
  void Close();

  bool empty() const { return head_ == nullptr; }
  uint32_t size() const { return queued_; }
  // Two-step requests whose first step has not answered yet. While there
  // are any, the client's next requests wait (see CommandDispatcher).
  uint32_t steps_in_flight() const { return steps_in_flight_; }
  void StepStarted() { ++steps_in_flight_; }
  void StepFinished() { --steps_in_flight_; }
  // Whether a blocking request (BLPOP, WAIT...) is still unanswered.
  bool Blocked() const;

  // CLIENT REPLY OFF/SKIP: where the queue and the output stand before a
  // request, and the request's replies made silent after it ran (those
  // already written dropped, those owed answered with nothing).
  struct Mark {
    PendingReply* tail;
    size_t output_size;
  };
  Mark MarkEnd() const { return {tail_, output_->size()}; }
  void SilenceSince(Mark mark);

 private:
  PendingReply* Append();
  // Writes every slot that is done and next in line to the output.
  void Drain();

  PendingReplyPool* pool_;
  RequestRecorder* recorder_;
  const ClientState* client_;
  Buffer* output_;
  Owner* owner_;
  PendingReply* head_ = nullptr;
  PendingReply* tail_ = nullptr;
  uint32_t queued_ = 0;
  uint32_t steps_in_flight_ = 0;
};

// A backend's reply for part `part` of `pending`, wherever it belongs: a
// slot with a second step runs the step first (which may send the next
// request instead of completing it), a slot of a client completes in its
// queue, and one whose client has gone (or the proxy's own) is freed to
// `pool` with its last reply. The worker's ReplySink calls this.
void DeliverReply(PendingReply* pending, uint32_t part, std::string_view reply, PendingReplyPool* pool);

}  // namespace redkube::proxy
