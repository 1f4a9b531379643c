#include "proxy/slot_keys_scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "core/reply_scanner.h"
#include "core/slot.h"
#include "proxy/backend_pool.h"
#include "proxy/reply_queue.h"

namespace redkube::proxy {

// Kept as bytes at the start of step_target, the shard's id after them.
struct SlotKeysScan::State {
  uint64_t cursor = 0;
  int64_t want = -1;  // < 0: count them
  int64_t found = 0;  // keys of the slot found so far (duplicates included)
  uint32_t rounds = 0;
};

namespace {

using State = SlotKeysScan::State;

State ReadState(const PendingReply* p) {
  State s;
  std::memcpy(&s, p->step_target.data(), sizeof(s));
  return s;
}

void WriteState(PendingReply* p, const State& s, std::string_view shard_id) {
  p->step_target.assign(reinterpret_cast<const char*>(&s), sizeof(s));
  p->step_target.append(shard_id);
}

std::string_view ShardIdOf(const PendingReply* p) {
  return std::string_view(p->step_target).substr(sizeof(State));
}

// SCAN's cursor: an unsigned 64-bit number.
bool ParseCursor(std::string_view text, uint64_t* cursor) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *cursor);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

std::string_view Answer(PendingReply* p, std::string text) {
  p->step_request = std::move(text);
  return p->step_request;
}

}  // namespace

SlotKeysScan& SlotKeysScan::OfWorker(WorkerContext* worker) {
  // One per worker thread, as the dispatcher's MigratingKeyStep is; the
  // worker's context lives as long as its thread.
  static thread_local SlotKeysScan scan;
  scan.worker_ = worker;
  return scan;
}

void SlotKeysScan::SendRound(PendingReply* p, int shard, const State& s) {
  p->next_step = this;
  p->queue->StepStarted();
  Buffer* out = worker_->backends->Master(shard)->StartRequest(p, 0);
  AppendArrayHeader(out, 4);
  AppendBulk(out, "SCAN");
  AppendBulk(out, std::to_string(s.cursor));
  AppendBulk(out, "COUNT");
  AppendBulk(out, std::to_string(kScanCount));
}

void SlotKeysScan::Start(RequestContext& ctx, uint16_t slot, int64_t want) {
  if (want == 0) return ctx.replies.Add("*0\r\n");
  const SlotRouter& router = ctx.router();
  const int shard = router.OwnerOf(slot);
  PendingReply* p = ctx.replies.Open(1);
  p->step_slot = slot;
  p->step_request.clear();
  State s;
  s.want = want;
  WriteState(p, s, router.shard(shard).id);
  SendRound(p, shard, s);
}

bool SlotKeysScan::Continue(PendingReply* p, std::string_view* reply) {
  if (IsErrorReply(*reply)) return false;  // the server's error is the client's
  State s = ReadState(p);
  const uint16_t slot = p->step_slot;
  std::vector<std::string_view> parts, keys;
  std::string_view cursor_text;
  uint64_t cursor = 0;
  if (!SplitArray(*reply, &parts) || parts.size() != 2 || !ParseStringReply(parts[0], &cursor_text) ||
      !ParseCursor(cursor_text, &cursor) || !SplitArray(parts[1], &keys)) {
    *reply = Answer(p, "-ERR unexpected SCAN reply from the slot's master\r\n");
    return false;
  }
  for (std::string_view element : keys) {
    std::string_view key;
    if (!ParseStringReply(element, &key) || KeySlot(key) != slot) continue;
    AppendBulk(&p->step_request, key);
    ++s.found;
  }
  s.cursor = cursor;
  ++s.rounds;
  const bool enough = s.want > 0 && s.found >= s.want;
  if (cursor == 0 || enough) {
    *reply = Finish(p, s);
    return false;
  }
  const SlotRouter& router = *worker_->router;
  const std::string_view shard_id = ShardIdOf(p);
  if (router.shard(router.OwnerOf(slot)).id != shard_id) {
    *reply = Answer(p, fmt::format("-TRYAGAIN slot {} moved off {} during CLUSTER {}; try again\r\n", slot,
                                   shard_id, s.want < 0 ? "COUNTKEYSINSLOT" : "GETKEYSINSLOT"));
    return false;
  }
  if (s.rounds >= kMaxRounds) {
    if (s.want > 0 && s.found > 0) {
      *reply = Finish(p, s);
      return false;
    }
    *reply = Answer(p, fmt::format("-ERR CLUSTER {} visited {} keys of {} without finishing: the proxy scans "
                                   "the whole shard for a slot's keys and stops there (docs/proxy.md, "
                                   "\"Cluster-mode clients\")\r\n",
                                   s.want < 0 ? "COUNTKEYSINSLOT" : "GETKEYSINSLOT",
                                   static_cast<int64_t>(s.rounds) * kScanCount, shard_id));
    return false;
  }
  std::string id(shard_id);
  WriteState(p, s, id);
  SendRound(p, router.IndexOf(id), s);
  return true;
}

std::string_view SlotKeysScan::Finish(PendingReply* p, const State& s) {
  // The keys found, as bulk strings in step_request: parsed back, sorted
  // and made unique (SCAN may report a key twice).
  std::string found = fmt::format("*{}\r\n", s.found);
  found += p->step_request;
  std::vector<std::string_view> elements, keys;
  SplitArray(found, &elements);
  for (std::string_view e : elements) {
    std::string_view key;
    if (ParseStringReply(e, &key)) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string out;
  if (s.want < 0) {
    AppendInteger(&out, static_cast<int64_t>(keys.size()));
  } else {
    const size_t n = std::min(keys.size(), static_cast<size_t>(s.want));
    AppendArrayHeader(&out, static_cast<int64_t>(n));
    for (size_t i = 0; i < n; ++i) AppendBulk(&out, keys[i]);
  }
  return Answer(p, std::move(out));
}

}  // namespace redkube::proxy
