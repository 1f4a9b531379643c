#include "configserver/key_mover.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/slot.h"
#include "core/strings.h"

namespace redkube::configserver {
namespace {

constexpr const char* kFenceChannel = "__redkube_mover_fence__";
constexpr const char* kTempPrefix = "__redkube_moving__:";
constexpr int64_t kStringChunkBytes = 1 << 20;

Status ReplyError(const std::string& what, const RedisReply& reply) {
  return Status::Error(what + ": " + reply.str);
}

bool IsBusyKey(const RedisReply& reply) {
  return reply.IsError() && reply.str.find("BUSYKEY") != std::string::npos;
}

}  // namespace

KeyMover::KeyMover(const HostPort& source, int source_replicas, const HostPort& target, int target_replicas,
                   KeyMoverOptions options)
    : source_address_(source),
      target_address_(target),
      source_replicas_(source_replicas),
      target_replicas_(target_replicas),
      options_(std::move(options)),
      source_(source, options_.password, options_.timeout),
      target_(target, options_.password, options_.timeout) {}

Result<ScanPage> KeyMover::Scan(uint64_t cursor, const SlotSet& slots) {
  auto reply =
      source_.Command({"SCAN", std::to_string(cursor), "COUNT", std::to_string(options_.scan_count)});
  if (!reply.ok()) return reply.status();
  if (reply->IsError()) return ReplyError("SCAN", reply.value());
  if (reply->elements.size() != 2) return Status::Error("SCAN: unexpected reply");
  ScanPage page;
  auto next = ParseInt64(reply->elements[0].str);
  if (!next) return Status::Error("SCAN: bad cursor");
  page.next_cursor = static_cast<uint64_t>(*next);
  std::vector<std::vector<std::string>> sizes;
  for (auto& k : reply->elements[1].elements) {
    if (!slots.Contains(KeySlot(k.str))) continue;
    // Another migration's big-key copy in progress is not a key to move.
    if (k.str.starts_with(kTempPrefix)) continue;
    sizes.push_back({"MEMORY", "USAGE", k.str});
    page.keys.push_back({std::move(k.str), 0});
  }
  if (page.keys.empty()) return page;
  auto usage = source_.Pipeline(sizes);
  if (!usage.ok()) return usage.status();
  std::vector<FoundKey> present;
  for (size_t i = 0; i < page.keys.size(); ++i) {
    const RedisReply& u = usage.value()[i];
    if (u.type == RedisReply::Type::kNil) continue;  // gone since the SCAN
    page.keys[i].bytes = u.type == RedisReply::Type::kInteger ? u.integer : 0;
    present.push_back(std::move(page.keys[i]));
  }
  page.keys = std::move(present);
  return page;
}

Status KeyMover::MoveKeys(const std::vector<FoundKey>& keys) {
  std::vector<std::string> batch;
  int64_t batch_bytes = 0;
  for (const auto& k : keys) {
    if (!batch.empty() && (static_cast<int>(batch.size()) >= options_.batch_keys ||
                           batch_bytes + k.bytes > options_.batch_bytes)) {
      if (Status s = MigrateBatch(batch); !s.ok()) return s;
      batch.clear();
      batch_bytes = 0;
    }
    batch.push_back(k.key);
    batch_bytes += k.bytes;
  }
  if (!batch.empty()) return MigrateBatch(batch);
  return Status::Ok();
}

Status KeyMover::MigrateBatch(const std::vector<std::string>& keys) {
  auto migrate = [&](const std::vector<std::string>& some) {
    std::vector<std::string> argv = {"MIGRATE",
                                     target_address_.host,
                                     std::to_string(target_address_.port),
                                     "",
                                     "0",
                                     std::to_string(options_.timeout.count()),
                                     "COPY"};
    if (!options_.password.empty()) {
      argv.push_back("AUTH");
      argv.push_back(options_.password);
    }
    argv.push_back("KEYS");
    argv.insert(argv.end(), some.begin(), some.end());
    return source_.Command(argv);
  };
  auto reply = migrate(keys);
  if (!reply.ok()) return reply.status();
  if (IsBusyKey(reply.value())) {
    // Some keys are on the target already (they count); copy the others
    // one by one to learn which.
    for (const auto& k : keys) {
      auto one = migrate({k});
      if (!one.ok()) return one.status();
      if (one->IsError() && !IsBusyKey(one.value())) return ReplyError("MIGRATE " + k, one.value());
    }
  } else if (reply->IsError()) {
    return ReplyError("MIGRATE", reply.value());
  }
  unsettled_ = keys;
  if (Status s = Settle(keys); !s.ok()) return s;
  unsettled_.clear();
  return Status::Ok();
}

Status KeyMover::Settle(const std::vector<std::string>& keys) {
  if (Status s = WaitReplicas(&target_, target_replicas_, /*fence=*/true); !s.ok()) return s;
  std::vector<std::string> unlink = {"UNLINK"};
  unlink.insert(unlink.end(), keys.begin(), keys.end());
  auto deleted = source_.Command(unlink);
  if (!deleted.ok()) return deleted.status();
  if (deleted->IsError()) return ReplyError("UNLINK", deleted.value());
  return WaitReplicas(&source_, source_replicas_, /*fence=*/false);
}

Status KeyMover::Stopped() const {
  if (stop_ && stop_()) return Status::Error("stopped");
  return Status::Ok();
}

Status KeyMover::WaitReplicas(RedisClient* client, int replicas, bool fence) {
  if (replicas <= 0) return Status::Ok();
  if (fence) {
    auto published = client->Command({"PUBLISH", kFenceChannel, "1"});
    if (!published.ok()) return published.status();
  }
  // WAIT in slices under the client's timeout; a replica that never
  // catches up fails the batch (retried), it does not skip the wait.
  auto deadline = std::chrono::steady_clock::now() + options_.replica_wait;
  const int64_t slice_ms = std::max<int64_t>(1, options_.timeout.count() / 2);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Status s = Stopped(); !s.ok()) return s;
    auto acked = client->Command({"WAIT", std::to_string(replicas), std::to_string(slice_ms)});
    if (!acked.ok()) return acked.status();
    if (acked->IsError()) return ReplyError("WAIT", acked.value());
    if (acked->integer >= replicas) return Status::Ok();
  }
  return Status::Error(client->address().ToString() + ": replicas did not acknowledge the move in time");
}

Status KeyMover::CopyBigKey(const std::string& key) {
  auto type = source_.Command({"TYPE", key});
  if (!type.ok()) return type.status();
  if (type->IsError()) return ReplyError("TYPE", type.value());
  if (type->str == "none") return Status::Ok();
  auto exists = target_.Command({"EXISTS", key});
  if (!exists.ok()) return exists.status();
  if (exists->IsError()) return ReplyError("EXISTS", exists.value());
  if (exists->integer == 0) {
    static constexpr const char* kChunkable[] = {"string", "list", "set", "zset", "hash", "stream"};
    if (std::find(std::begin(kChunkable), std::end(kChunkable), type->str) == std::end(kChunkable)) {
      // A module's type has no chunked copy: one MIGRATE while it is held.
      return MigrateBatch({key});
    }
    // The expiry as an instant, read first: a key that expires during the
    // copy must not come back without one.
    auto expires = source_.Command({"PEXPIRETIME", key});
    if (!expires.ok()) return expires.status();
    if (expires->IsError()) return ReplyError("PEXPIRETIME", expires.value());
    const std::string temp = kTempPrefix + key;
    auto cleared = target_.Command({"UNLINK", temp});
    if (!cleared.ok()) return cleared.status();
    if (cleared->IsError()) return ReplyError("UNLINK", cleared.value());
    if (Status s = CopyChunks(key, type->str, temp); !s.ok()) return s;
    auto still = source_.Command({"EXISTS", key});
    if (!still.ok()) return still.status();
    if (still->IsError()) return ReplyError("EXISTS", still.value());
    if (still->integer == 0) {  // expired meanwhile: the partial copy goes
      auto dropped = target_.Command({"UNLINK", temp});
      return dropped.ok() ? Status::Ok() : dropped.status();
    }
    if (expires->integer > 0) {
      auto set = target_.Command({"PEXPIREAT", temp, std::to_string(expires->integer)});
      if (!set.ok()) return set.status();
      if (set->IsError()) return ReplyError("PEXPIREAT", set.value());
    }
    // RENAMENX: a copy already in place (it counts) is never overwritten.
    auto renamed = target_.Command({"RENAMENX", temp, key});
    if (!renamed.ok()) return renamed.status();
    if (renamed->IsError()) return ReplyError("RENAMENX", renamed.value());
    if (renamed->integer == 0) {
      auto dropped = target_.Command({"UNLINK", temp});
      if (!dropped.ok()) return dropped.status();
    }
    if (Status s = WaitReplicas(&target_, target_replicas_, /*fence=*/true); !s.ok()) return s;
  }
  // UNLINK frees a big value in a background thread: the source does not
  // stall.
  auto deleted = source_.Command({"UNLINK", key});
  if (!deleted.ok()) return deleted.status();
  if (deleted->IsError()) return ReplyError("UNLINK", deleted.value());
  return WaitReplicas(&source_, source_replicas_, /*fence=*/false);
}

Status KeyMover::CopyChunks(const std::string& key, const std::string& type, const std::string& temp) {
  const std::string count = std::to_string(options_.chunk_elements);
  auto write = [&](std::vector<std::string> argv) -> Status {
    if (Status s = Stopped(); !s.ok()) return s;
    auto reply = target_.Command(argv);
    if (!reply.ok()) return reply.status();
    if (reply->IsError()) return ReplyError(argv[0], reply.value());
    return Status::Ok();
  };
  // HSCAN / SSCAN / ZSCAN: each page of elements becomes one write. A SCAN
  // may return an element twice; the writes are idempotent.
  auto scan_copy = [&](const char* scan, const char* add, bool score_first) -> Status {
    std::string cursor = "0";
    do {
      auto page = source_.Command({scan, key, cursor, "COUNT", count});
      if (!page.ok()) return page.status();
      if (page->IsError() || page->elements.size() != 2) return Status::Error(std::string(scan) + " failed");
      cursor = page->elements[0].str;
      auto& items = page->elements[1].elements;
      if (items.empty()) continue;
      std::vector<std::string> argv = {add, temp};
      if (score_first) {
        for (size_t i = 0; i + 1 < items.size(); i += 2) {
          argv.push_back(std::move(items[i + 1].str));
          argv.push_back(std::move(items[i].str));
        }
      } else {
        for (auto& item : items) argv.push_back(std::move(item.str));
      }
      if (Status s = write(std::move(argv)); !s.ok()) return s;
    } while (cursor != "0");
    return Status::Ok();
  };
  if (type == "hash") return scan_copy("HSCAN", "HSET", false);
  if (type == "set") return scan_copy("SSCAN", "SADD", false);
  if (type == "zset") return scan_copy("ZSCAN", "ZADD", true);
  if (type == "list") {
    for (int64_t first = 0;; first += options_.chunk_elements) {
      auto page = source_.Command(
          {"LRANGE", key, std::to_string(first), std::to_string(first + options_.chunk_elements - 1)});
      if (!page.ok()) return page.status();
      if (page->IsError()) return ReplyError("LRANGE", page.value());
      if (page->elements.empty()) return Status::Ok();
      std::vector<std::string> argv = {"RPUSH", temp};
      for (auto& item : page->elements) argv.push_back(std::move(item.str));
      if (Status s = write(std::move(argv)); !s.ok()) return s;
    }
  }
  if (type == "string") {
    for (int64_t offset = 0;; offset += kStringChunkBytes) {
      auto part = source_.Command(
          {"GETRANGE", key, std::to_string(offset), std::to_string(offset + kStringChunkBytes - 1)});
      if (!part.ok()) return part.status();
      if (part->IsError()) return ReplyError("GETRANGE", part.value());
      if (part->str.empty()) return offset == 0 ? write({"SET", temp, ""}) : Status::Ok();
      if (Status s = write({"APPEND", temp, std::move(part->str)}); !s.ok()) return s;
    }
  }
  if (type == "stream") {
    std::string start = "-";
    for (;;) {
      auto page = source_.Command({"XRANGE", key, start, "+", "COUNT", count});
      if (!page.ok()) return page.status();
      if (page->IsError()) return ReplyError("XRANGE", page.value());
      if (page->elements.empty()) break;
      for (auto& entry : page->elements) {
        if (entry.elements.size() != 2) return Status::Error("XRANGE: unexpected entry");
        std::vector<std::string> argv = {"XADD", temp, entry.elements[0].str};
        for (auto& field : entry.elements[1].elements) argv.push_back(std::move(field.str));
        if (Status s = write(std::move(argv)); !s.ok()) return s;
      }
      start = "(" + page->elements.back().elements[0].str;
    }
    // The stream's last id and its consumer groups (their pending lists are
    // not carried over: docs/migration.md says so).
    auto groups = source_.Command({"XINFO", "GROUPS", key});
    if (!groups.ok()) return groups.status();
    if (groups->IsError()) return ReplyError("XINFO GROUPS", groups.value());
    for (const auto& g : groups->elements) {
      std::string name, last_id;
      for (size_t i = 0; i + 1 < g.elements.size(); i += 2) {
        if (g.elements[i].str == "name") name = g.elements[i + 1].str;
        if (g.elements[i].str == "last-delivered-id") last_id = g.elements[i + 1].str;
      }
      if (Status s = write({"XGROUP", "CREATE", temp, name, last_id, "MKSTREAM"}); !s.ok()) return s;
    }
    auto info = source_.Command({"XINFO", "STREAM", key});
    if (!info.ok()) return info.status();
    if (info->IsError()) return ReplyError("XINFO STREAM", info.value());
    for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
      if (info->elements[i].str == "last-generated-id") {
        auto made = target_.Command({"EXISTS", temp});
        if (!made.ok()) return made.status();
        if (made->integer == 0) {
          // An empty stream with no groups: XADD + XDEL makes it exist.
          if (Status s = write({"XADD", temp, "0-1", "f", "v"}); !s.ok()) return s;
          if (Status s = write({"XDEL", temp, "0-1"}); !s.ok()) return s;
        }
        return write({"XSETID", temp, info->elements[i + 1].str});
      }
    }
    return Status::Ok();
  }
  return Status::Error("cannot move a key of type " + type + " in chunks");
}

}  // namespace redkube::configserver
