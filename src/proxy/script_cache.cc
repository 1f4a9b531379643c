#include "proxy/script_cache.h"

#include <openssl/sha.h>

namespace redkube::proxy {

std::string ScriptCache::Sha1Hex(std::string_view body) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

void ScriptCache::Add(std::string_view body) {
  if (body.size() > max_bytes_) return;
  std::string sha = Sha1Hex(body);
  std::lock_guard lock(mu_);
  if (by_sha_.count(sha)) return;
  while (bytes_ + body.size() > max_bytes_ && !order_.empty()) {
    auto it = by_sha_.find(order_.front());
    bytes_ -= it->second.size();
    by_sha_.erase(it);
    order_.pop_front();
  }
  by_sha_.emplace(sha, std::string(body));
  order_.push_back(std::move(sha));
  bytes_ += body.size();
}

std::vector<std::string> ScriptCache::Bodies() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> bodies;
  bodies.reserve(order_.size());
  for (const auto& sha : order_) bodies.push_back(by_sha_.at(sha));
  return bodies;
}

void ScriptCache::Clear() {
  std::lock_guard lock(mu_);
  by_sha_.clear();
  order_.clear();
  bytes_ = 0;
}

size_t ScriptCache::size() const {
  std::lock_guard lock(mu_);
  return by_sha_.size();
}

}  // namespace redkube::proxy
