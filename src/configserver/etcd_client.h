// A client for etcd's v3 API through its JSON gateway (HTTP/1.1 + JSON,
// served by every etcd on its client port). We use the gateway rather than
// gRPC because it needs nothing beyond the HTTP and JSON libraries the project
// already uses, and the ConfigServer's traffic (a few requests a second) does
// not need gRPC's efficiency. Thread-safe: each call uses its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace httplib {
class Client;
}  // namespace httplib

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

// Every key under a prefix as of one revision of the store.
struct PrefixRange {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;  // the store's revision the read saw (header.revision)
};

class EtcdClient {
 public:
  // endpoint: "http://127.0.0.1:2379".
  explicit EtcdClient(std::string endpoint,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  Result<std::optional<KeyValue>> Get(const std::string& key) const;
  Result<std::vector<KeyValue>> GetPrefix(const std::string& prefix) const;
  // The same, with the revision it was read at: a watch from revision + 1
  // then misses nothing and repeats nothing.
  Result<PrefixRange> ListPrefix(const std::string& prefix) const;

  // Writes `value` only if the key's mod_revision is still `expected_revision`
  // (0: only if the key does not exist). Returns false if another writer got
  // there first: the caller re-reads and decides again. `revision`, when
  // given, receives the store's revision after the transaction: on success,
  // the mod_revision of the write (or the revision of the delete).
  Result<bool> PutIfRevision(const std::string& key, const std::string& value, int64_t expected_revision,
                             int64_t lease = 0, int64_t* revision = nullptr) const;
  // Writes `value` (or deletes the key when `value` is nullopt) only if every
  // comparison holds; false when one does not.
  Result<bool> WriteIf(const std::vector<EtcdCompare>& compares, const std::string& key,
                       const std::optional<std::string>& value, int64_t lease = 0,
                       int64_t* revision = nullptr) const;
  Status Put(const std::string& key, const std::string& value, int64_t lease = 0) const;
  // Deletes the key only while it holds `expected_value` (releasing our own lock).
  Result<bool> DeleteIfValue(const std::string& key, const std::string& expected_value) const;

  Result<int64_t> GrantLease(int ttl_seconds) const;
  // Returns the remaining TTL; an error or 0 means the lease is gone.
  Result<int64_t> KeepAlive(int64_t lease) const;
  Status Revoke(int64_t lease) const;

  const std::string& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  // POSTs a JSON request to the gateway and parses its JSON reply.
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& request) const;

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
};

// A change of one key, as a watch delivers it.
struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // key and mod_revision always (for a delete: the revision of the delete);
  // value, create_revision and lease for a put.
  KeyValue kv;
};

// Splits the body of a gateway stream (/v3/watch answers with one JSON
// object per message, newline-separated) into whole objects, whatever the
// chunks it arrives in: an object split across chunks is held until it
// ends, several in one chunk are each delivered. Objects are found by their
// braces (strings and escapes respected), so the newline is not relied on.
// Pure (no I/O); one per stream, not thread-safe.
class JsonObjectSplitter {
 public:
  // An object larger than this is an error rather than unbounded buffering.
  explicit JsonObjectSplitter(size_t max_object_bytes = 64 << 20) : max_object_bytes_(max_object_bytes) {}

  // Calls on_object with the text of every object completed by `data`, in
  // order; stops and returns false as soon as on_object returns false. An
  // error for anything but whitespace between objects (the stream is not
  // what we think) or an object over the limit; the splitter is then spent.
  Result<bool> Feed(std::string_view data, const std::function<bool(std::string_view object)>& on_object);

  // Bytes of an unfinished object held back.
  size_t pending() const { return pending_.size(); }

 private:
  size_t max_object_bytes_;
  std::string pending_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

// One message of a watch stream, decoded.
struct WatchMessage {
  bool created = false;   // the watch is set up
  bool canceled = false;  // etcd ended the watch (see compact_revision)
  // Set when the watch was refused or ended because the revisions it asks
  // for are compacted away: the caller must read everything again.
  int64_t compact_revision = 0;
  int64_t revision = 0;  // header.revision
  std::string cancel_reason;
  std::vector<EtcdEvent> events;
};

// `{"result": {...}}` -> the message; an error for anything else (the
// gateway's `{"error": ...}` included, with its text).
Result<WatchMessage> ParseWatchMessage(std::string_view object);

// A watch of every key under a prefix, run on the caller's thread, that
// another thread can end at once. Thread-safe.
class EtcdWatch {
 public:
  // The code of Run's error when the start revision is compacted away.
  static constexpr int kCompacted = 1;

  explicit EtcdWatch(const EtcdClient* etcd) : etcd_(etcd) {}

  // Watches keys under `prefix` from `start_revision` (> 0) and calls
  // on_event for every change, in revision order, and on_contact whenever a
  // message arrives (etcd is alive). Returns when the stream ends or fails,
  // when on_event returns false (Ok), or when Interrupt()/Close() is called
  // (an error). A start revision etcd compacted away is an error with code
  // kCompacted: read everything again and watch from after that read.
  Status Run(const std::string& prefix, int64_t start_revision,
             const std::function<bool(const EtcdEvent&)>& on_event, const std::function<void()>& on_contact);

  // Ends the Run under way, if any, now (its connection is shut down); a
  // later Run starts normally.
  void Interrupt();
  // Interrupts and makes every later Run return at once.
  void Close();

 private:
  const EtcdClient* etcd_;
  std::mutex mu_;
  bool closed_ = false;
  bool interrupted_ = false;           // of the Run under way
  httplib::Client* active_ = nullptr;  // the connection of the Run under way
};

// Standard base64, as the gateway encodes keys and values.
std::string Base64Encode(std::string_view in);
std::string Base64Decode(std::string_view in);

}  // namespace redkube::configserver
