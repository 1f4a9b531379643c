#include "proxy/reply_queue.h"

#include "core/reply_scanner.h"

namespace redkube::proxy {

PendingReply* ReplyQueue::Append() {
  PendingReply* p = pool_->Get();
  p->queue = this;
  if (tail_) {
    tail_->next = p;
  } else {
    head_ = p;
  }
  tail_ = p;
  ++queued_;
  return p;
}

PendingReply* ReplyQueue::Open(uint32_t parts) {
  PendingReply* p = Append();
  recorder_->Stamp(p);
  p->outstanding = parts;
  return p;
}

PendingReply* ReplyQueue::OpenMerged(ReplyMerger::Kind kind, uint32_t parts) {
  PendingReply* p = Open(parts);
  if (!p->merger) p->merger = std::make_unique<ReplyMerger>();
  p->merging = true;
  p->merger->Reset(kind, parts);
  return p;
}

PendingReply* ReplyQueue::OpenFixed(std::string reply, uint32_t parts) {
  PendingReply* p = Open(parts);
  p->fixed = true;
  p->data = std::move(reply);
  return p;
}

void ReplyQueue::Add(std::string_view resp) {
  recorder_->CountLocalReply(resp);
  if (head_ == nullptr) {
    output_->Append(resp);
    owner_->OnRepliesWritten();
    return;
  }
  PendingReply* p = Append();
  p->data.assign(resp);
  p->done = true;
}

void ReplyQueue::AddFinal(std::string_view resp) {
  owner_->OnClosing();
  if (head_ == nullptr) {
    output_->Append(resp);
    owner_->OnFinalReplyWritten();
    owner_->OnRepliesWritten();
    return;
  }
  PendingReply* p = Append();
  p->data.assign(resp);
  p->done = true;
  p->close_after = true;
}

bool ReplyQueue::CloseAfterLast() {
  if (tail_ == nullptr) return false;
  // Replies owed on shared connections: bounded by their reply timeout.
  tail_->close_after = true;
  return true;
}

void ReplyQueue::Complete(PendingReply* p, uint32_t part, std::string_view reply) {
  if (p->fixed) {
    if (IsErrorReply(reply) && !p->silent) p->data.assign(reply);
  } else if (p->merging) {
    p->merger->SetPart(part, reply);
  } else if (head_ == p) {
    // The common case: the reply is next in line, so it goes straight to
    // the client's output, one copy; its (empty) data is popped by Drain.
    if (p->command != 0) {
      recorder_->Record(*p, reply, client_->peer, client_->name);
      p->command = 0;
    }
    output_->Append(reply);
    p->done = true;
    p->outstanding = 0;
    Drain();
    return;
  } else {
    p->data.assign(reply);
  }
  if (--p->outstanding > 0) return;
  if (p->merging) p->merger->Finish(&p->data);
  p->done = true;
  Drain();
}

void ReplyQueue::Drain() {
  bool final_reply = false;
  while (head_ != nullptr && head_->done) {
    PendingReply* p = head_;
    if (p->command != 0) recorder_->Record(*p, p->data, client_->peer, client_->name);
    output_->Append(p->data);
    final_reply |= p->close_after;
    head_ = p->next;
    if (head_ == nullptr) tail_ = nullptr;
    --queued_;
    pool_->Put(p);
  }
  if (final_reply) owner_->OnFinalReplyWritten();
  owner_->OnRepliesWritten();
}

bool ReplyQueue::Blocked() const {
  for (const PendingReply* p = head_; p != nullptr; p = p->next) {
    if (p->blocks && !p->done) return true;
  }
  return false;
}

void ReplyQueue::SilenceSince(Mark mark) {
  // Written at once only while the queue was empty before the request.
  if (mark.tail == nullptr && output_->size() > mark.output_size) output_->Truncate(mark.output_size);
  for (PendingReply* p = mark.tail ? mark.tail->next : head_; p != nullptr; p = p->next) {
    p->data.clear();
    p->silent = true;
    if (!p->done) {
      p->fixed = true;  // its parts count down as usual; the client gets nothing
      p->merging = false;
    }
  }
}

void ReplyQueue::Close() {
  // Slots still owed by backends stay alive until their replies arrive,
  // orphaned; the worker frees them then.
  for (PendingReply* p = head_; p != nullptr;) {
    PendingReply* next = p->next;
    p->queue = nullptr;
    p->next = nullptr;
    p->next_step = nullptr;  // the client is gone: the second step is not run
    if (p->outstanding == 0) pool_->Put(p);
    p = next;
  }
  head_ = tail_ = nullptr;
  queued_ = 0;
  steps_in_flight_ = 0;
}

void DeliverReply(PendingReply* pending, uint32_t part, std::string_view reply, PendingReplyPool* pool) {
  if (PendingReply* parent = pending->parent) {
    // A two-step part of a split request. Its step runs while the client
    // is there (the parent is still in its queue); its last reply is the
    // parent's part, then it is freed.
    if (RequestStep* step = pending->next_step) {
      pending->next_step = nullptr;
      if (parent->queue != nullptr) {
        parent->queue->StepFinished();
        if (step->Continue(pending, &reply)) return;
      }
    }
    DeliverReply(parent, pending->parent_part, reply, pool);
    pool->Put(pending);
    return;
  }
  if (pending->queue == nullptr) {
    // Its client has gone (or it was the proxy's own): nothing to deliver.
    if (--pending->outstanding == 0) pool->Put(pending);
    return;
  }
  if (pending->next_step != nullptr) {
    // A two-step request: its first step answered. The step sends the
    // second (same slot, same place in the client's queue) or says what
    // the client gets.
    RequestStep* step = pending->next_step;
    pending->next_step = nullptr;
    pending->queue->StepFinished();
    if (step->Continue(pending, &reply)) return;
  }
  pending->queue->Complete(pending, part, reply);
}

}  // namespace redkube::proxy
