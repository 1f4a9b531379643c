// A client for etcd's v3 API through its JSON gateway (HTTP/1.1 + JSON,
// served by every etcd on its client port). We use the gateway rather than
// gRPC because it needs nothing beyond the HTTP and JSON libraries the project
// already uses, and the ConfigServer's traffic (a few requests a second) does
// not need gRPC's efficiency. Thread-safe: each call uses its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace redkube::configserver {

// One condition of a transaction: the key's mod_revision equals `revision`
// (0 meaning "the key does not exist"), or its value equals `value`.
struct EtcdCompare {
  enum class Kind { kModRevision, kValue };
  Kind kind = Kind::kModRevision;
  std::string key;
  int64_t revision = 0;
  std::string value;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

class EtcdClient {
 public:
  // endpoint: "http://127.0.0.1:2379".
  explicit EtcdClient(std::string endpoint,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  Result<std::optional<KeyValue>> Get(const std::string& key) const;
  Result<std::vector<KeyValue>> GetPrefix(const std::string& prefix) const;

  // Writes `value` only if the key's mod_revision is still `expected_revision`
  // (0: only if the key does not exist). Returns false if another writer got
  // there first: the caller re-reads and decides again.
  Result<bool> PutIfRevision(const std::string& key, const std::string& value, int64_t expected_revision,
                             int64_t lease = 0) const;
  // Writes `value` (or deletes the key when `value` is nullopt) only if every
  // comparison holds; false when one does not.
  Result<bool> WriteIf(const std::vector<EtcdCompare>& compares, const std::string& key,
                       const std::optional<std::string>& value, int64_t lease = 0) const;
  Status Put(const std::string& key, const std::string& value, int64_t lease = 0) const;
  // Deletes the key only while it holds `expected_value` (releasing our own lock).
  Result<bool> DeleteIfValue(const std::string& key, const std::string& expected_value) const;

  Result<int64_t> GrantLease(int ttl_seconds) const;
  // Returns the remaining TTL; an error or 0 means the lease is gone.
  Result<int64_t> KeepAlive(int64_t lease) const;
  Status Revoke(int64_t lease) const;

  const std::string& endpoint() const { return endpoint_; }

 private:
  // POSTs a JSON request to the gateway and parses its JSON reply.
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& request) const;

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
};

// Standard base64, as the gateway encodes keys and values.
std::string Base64Encode(std::string_view in);
std::string Base64Decode(std::string_view in);

}  // namespace redkube::configserver
