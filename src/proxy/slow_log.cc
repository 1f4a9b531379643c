#include "proxy/slow_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace redkube::proxy {

void SlowLog::Add(SlowLogEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  entry.id = next_id_++;
  entries_.push_front(std::move(entry));
  while (entries_.size() > max_len_) entries_.pop_back();
}

std::vector<SlowLogEntry> SlowLog::Newest(int64_t count) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = count < 0 ? entries_.size() : std::min(entries_.size(), static_cast<size_t>(count));
  return {entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(n)};
}

size_t SlowLog::Length() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void SlowLog::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
}

uint64_t SlowLog::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_;
}

// Layout of a captured request: the argument count, then for each kept
// argument its full length, its kept length and the kept bytes; lengths are
// 4-byte host-order integers (the capture never leaves the process).
namespace {

char* PutU32(char* p, uint32_t v) {
  std::memcpy(p, &v, sizeof(v));
  return p + sizeof(v);
}

uint32_t ReadU32(std::string_view s, size_t pos) {
  uint32_t v;
  std::memcpy(&v, s.data() + pos, sizeof(v));
  return v;
}

}  // namespace

void SlowLogArgs::Capture(std::span<const std::string_view> argv, std::string* out) {
  // Sized once and filled with memcpy: this runs for every request.
  const size_t kept = std::min(argv.size(), kMaxArgs);
  size_t size = 4;
  for (size_t i = 0; i < kept; ++i) size += 8 + std::min(argv[i].size(), kMaxArgBytes);
  out->resize(size);
  char* p = PutU32(out->data(), static_cast<uint32_t>(argv.size()));
  for (size_t i = 0; i < kept; ++i) {
    const size_t n = std::min(argv[i].size(), kMaxArgBytes);
    p = PutU32(p, static_cast<uint32_t>(argv[i].size()));
    p = PutU32(p, static_cast<uint32_t>(n));
    std::memcpy(p, argv[i].data(), n);
    p += n;
  }
}

std::vector<std::string> SlowLogArgs::Expand(std::string_view captured) {
  std::vector<std::string> args;
  if (captured.size() < 4) return args;
  uint32_t total = ReadU32(captured, 0);
  size_t pos = 4;
  while (pos + 8 <= captured.size()) {
    uint32_t full = ReadU32(captured, pos);
    uint32_t kept = ReadU32(captured, pos + 4);
    pos += 8;
    std::string a(captured.substr(pos, kept));
    pos += kept;
    if (full > kept) a += fmt::format("... ({} more bytes)", full - kept);
    args.push_back(std::move(a));
  }
  if (total > args.size()) {
    // As in Redis, the last entry says how many arguments were left out.
    args.push_back(fmt::format("... ({} more arguments)", total - args.size()));
  }
  return args;
}

}  // namespace redkube::proxy
