#include "configserver/etcd_client.h"

#include <httplib.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/strings.h"

namespace redkube::configserver {
namespace {

using nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The gateway prints int64 fields as JSON strings. A field of another shape
// throws, as nlohmann::json does for a wrong type; Interpret() turns both
// into an error.
int64_t Int(const json& j, const char* field) {
  if (!j.is_object() || !j.contains(field)) return 0;
  const json& v = j[field];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    // etcd's gateway sends 64-bit integers as strings.
    if (auto n = ParseInt64(v.get_ref<const std::string&>())) return *n;
  }
  throw std::invalid_argument(std::string("field ") + field + " is not an integer");
}

// Reads a gateway reply with `read`. A reply of another shape (something
// other than etcd behind the endpoint, another API version) is an error
// for the caller, never an exception on a thread that catches none.
template <typename Read>
auto Interpret(const std::string& where, const json& reply, Read read) -> decltype(read(reply)) {
  try {
    return read(reply);
  } catch (const std::exception& e) {
    return Status::Error("etcd " + where + ": unexpected reply: " + e.what());
  }
}

KeyValue ToKeyValue(const json& kv) {
  KeyValue out;
  out.key = Base64Decode(kv.value("key", ""));
  out.value = Base64Decode(kv.value("value", ""));
  out.create_revision = Int(kv, "create_revision");
  out.mod_revision = Int(kv, "mod_revision");
  out.lease = Int(kv, "lease");
  return out;
}

// The key range [prefix, prefix+1) as etcd expresses "every key with prefix".
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kAlphabet, c);
    if (c == '=' || c == '\0' || p == nullptr) continue;
    acc = (acc << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

EtcdClient::EtcdClient(std::string endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

Result<json> EtcdClient::Post(const std::string& path, const json& request) const {
  httplib::Client client(endpoint_);
  client.set_connection_timeout(timeout_);
  client.set_read_timeout(timeout_);
  client.set_write_timeout(timeout_);
  auto res = client.Post(path, request.dump(), "application/json");
  if (!res) {
    return Status::Error("etcd " + endpoint_ + path + ": " + httplib::to_string(res.error()));
  }
  if (res->status != 200) {
    return Status::Error("etcd " + endpoint_ + path + ": HTTP " + std::to_string(res->status) + ": " +
                         res->body);
  }
  json reply = json::parse(res->body, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    return Status::Error("etcd " + endpoint_ + path + ": malformed reply");
  }
  return reply;
}

Result<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) const {
  auto body = Post("/v3/kv/range", json{{"key", Base64Encode(key)}});
  if (!body.ok()) return body.status();
  return Interpret(endpoint_, body.value(), [](const json& j) -> Result<std::optional<KeyValue>> {
    if (!j.contains("kvs") || j.at("kvs").empty()) return std::optional<KeyValue>();
    return std::optional<KeyValue>(ToKeyValue(j.at("kvs").at(0)));
  });
}

Result<std::vector<KeyValue>> EtcdClient::GetPrefix(const std::string& prefix) const {
  auto range = ListPrefix(prefix);
  if (!range.ok()) return range.status();
  return std::move(range->kvs);
}

Result<PrefixRange> EtcdClient::ListPrefix(const std::string& prefix) const {
  auto body = Post("/v3/kv/range",
                   json{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixEnd(prefix))}});
  if (!body.ok()) return body.status();
  return Interpret(endpoint_, body.value(), [](const json& j) -> Result<PrefixRange> {
    PrefixRange out;
    if (j.contains("kvs")) {
      if (!j.at("kvs").is_array()) throw std::invalid_argument("kvs is not an array");
      for (const auto& kv : j.at("kvs")) out.kvs.push_back(ToKeyValue(kv));
    }
    out.revision = j.contains("header") ? Int(j.at("header"), "revision") : 0;
    return out;
  });
}

Result<bool> EtcdClient::PutIfRevision(const std::string& key, const std::string& value,
                                       int64_t expected_revision, int64_t lease, int64_t* revision) const {
  EtcdCompare compare{EtcdCompare::Kind::kModRevision, key, expected_revision, {}};
  return WriteIf({compare}, key, value, lease, revision);
}

Result<bool> EtcdClient::WriteIf(const std::vector<EtcdCompare>& compares, const std::string& key,
                                 const std::optional<std::string>& value, int64_t lease,
                                 int64_t* revision) const {
  json conditions = json::array();
  for (const auto& c : compares) {
    json j = {{"key", Base64Encode(c.key)}, {"result", "EQUAL"}};
    if (c.kind == EtcdCompare::Kind::kValue) {
      j["target"] = "VALUE";
      j["value"] = Base64Encode(c.value);
    } else if (c.revision == 0) {
      // "Does not exist" is a create_revision of 0.
      j["target"] = "CREATE";
      j["create_revision"] = "0";
    } else {
      j["target"] = "MOD";
      j["mod_revision"] = std::to_string(c.revision);
    }
    conditions.push_back(std::move(j));
  }
  json op;
  if (value) {
    json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(*value)}};
    if (lease != 0) put["lease"] = std::to_string(lease);
    op = {{"request_put", put}};
  } else {
    op = {{"request_delete_range", json{{"key", Base64Encode(key)}}}};
  }
  json txn = {{"compare", conditions}, {"success", json::array({op})}};
  auto body = Post("/v3/kv/txn", txn);
  if (!body.ok()) return body.status();
  return Interpret(endpoint_, body.value(), [revision](const json& j) -> Result<bool> {
    if (revision != nullptr) *revision = j.contains("header") ? Int(j.at("header"), "revision") : 0;
    return j.value("succeeded", false);
  });
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) const {
  json put = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  auto body = Post("/v3/kv/put", put);
  return body.ok() ? Status::Ok() : body.status();
}

Result<bool> EtcdClient::DeleteIfValue(const std::string& key, const std::string& expected_value) const {
  EtcdCompare compare{EtcdCompare::Kind::kValue, key, 0, expected_value};
  return WriteIf({compare}, key, std::nullopt);
}

Result<int64_t> EtcdClient::GrantLease(int ttl_seconds) const {
  auto body = Post("/v3/lease/grant", json{{"TTL", std::to_string(ttl_seconds)}});
  if (!body.ok()) return body.status();
  return Interpret(endpoint_, body.value(), [](const json& j) -> Result<int64_t> {
    if (Int(j, "ID") == 0) return Status::Error("etcd: lease not granted: " + j.dump());
    return Int(j, "ID");
  });
}

Result<int64_t> EtcdClient::KeepAlive(int64_t lease) const {
  auto body = Post("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}});
  if (!body.ok()) return body.status();
  // The gateway streams keep-alive replies; one request gives one
  // {"result": {...}} object.
  return Interpret(endpoint_, body.value(), [](const json& j) -> Result<int64_t> {
    return Int(j.contains("result") ? j.at("result") : j, "TTL");
  });
}

Status EtcdClient::Revoke(int64_t lease) const {
  auto body = Post("/v3/lease/revoke", json{{"ID", std::to_string(lease)}});
  return body.ok() ? Status::Ok() : body.status();
}

}  // namespace redkube::configserver

namespace redkube::configserver {

Result<bool> JsonObjectSplitter::Feed(std::string_view data,
                                      const std::function<bool(std::string_view object)>& on_object) {
  for (char c : data) {
    if (depth_ < 0) return Status::Error("etcd stream: spent by an earlier error");
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{') {
        depth_ = -1;  // spent: every later Feed fails too
        return Status::Error("etcd stream: unexpected byte outside an object");
      }
      depth_ = 1;
      pending_.assign(1, c);
      continue;
    }
    pending_ += c;
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      --depth_;
    }
    if (depth_ == 0) {
      std::string object = std::move(pending_);
      pending_.clear();
      if (!on_object(object)) return false;
    } else if (pending_.size() > max_object_bytes_) {
      depth_ = -1;
      pending_.clear();
      return Status::Error("etcd stream: an object over " + std::to_string(max_object_bytes_) + " bytes");
    }
  }
  return true;
}

Result<WatchMessage> ParseWatchMessage(std::string_view object) {
  json j = json::parse(object, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("etcd watch: malformed message");
  if (!j.contains("result") || !j.at("result").is_object()) {
    // The gateway's own errors: {"error": "...", "code": N, "message": "..."}.
    return Status::Error("etcd watch: " + j.dump());
  }
  return Interpret("watch", j.at("result"), [](const json& r) -> Result<WatchMessage> {
    WatchMessage m;
    m.created = r.value("created", false);
    m.canceled = r.value("canceled", false);
    m.compact_revision = Int(r, "compact_revision");
    m.cancel_reason = r.value("cancel_reason", "");
    m.revision = r.contains("header") ? Int(r.at("header"), "revision") : 0;
    if (r.contains("events")) {
      if (!r.at("events").is_array()) throw std::invalid_argument("events is not an array");
      for (const auto& e : r.at("events")) {
        EtcdEvent event;
        // PUT is the enum's zero, which the gateway leaves out.
        std::string type = e.value("type", "PUT");
        if (type == "DELETE") {
          event.type = EtcdEvent::Type::kDelete;
        } else if (type != "PUT") {
          throw std::invalid_argument("event type " + type);
        }
        if (!e.contains("kv") || !e.at("kv").is_object()) throw std::invalid_argument("event without kv");
        event.kv = ToKeyValue(e.at("kv"));
        m.events.push_back(std::move(event));
      }
    }
    return m;
  });
}

Status EtcdWatch::Run(const std::string& prefix, int64_t start_revision,
                      const std::function<bool(const EtcdEvent&)>& on_event,
                      const std::function<void()>& on_contact) {
  const std::string where = "etcd " + etcd_->endpoint() + "/v3/watch";
  httplib::Client client(etcd_->endpoint());
  client.set_connection_timeout(etcd_->timeout());
  client.set_write_timeout(etcd_->timeout());
  // A quiet watch sends nothing; the read timeout only bounds a connection
  // that went silent without closing (the store's periodic refresh notices
  // a watch that misses changes long before, and interrupts it).
  client.set_read_timeout(std::chrono::minutes(10));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::Error(where + ": closed");
    interrupted_ = false;
    active_ = &client;
  }
  struct Unregister {
    EtcdWatch* self;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->active_ = nullptr;
    }
  } unregister{this};

  json create = {{"create_request",
                  {{"key", Base64Encode(prefix)},
                   {"range_end", Base64Encode(PrefixEnd(prefix))},
                   {"start_revision", std::to_string(start_revision)}}}};
  int http_status = 0;
  std::string error_body;
  constexpr size_t kMaxErrorBody = 4096;
  JsonObjectSplitter splitter;
  Status outcome = Status::Ok();
  bool done = false;  // the receiver ended the stream on purpose (outcome says why)
  httplib::Request req;
  req.method = "POST";
  req.path = "/v3/watch";
  req.body = create.dump();
  req.headers = {{"Content-Type", "application/json"}};
  req.response_handler = [&](const httplib::Response& response) {
    http_status = response.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    if (http_status != 200) {
      if (error_body.size() < kMaxErrorBody) error_body.append(data, std::min(length, kMaxErrorBody));
      return true;
    }
    auto fed = splitter.Feed(std::string_view(data, length), [&](std::string_view object) {
      auto message = ParseWatchMessage(object);
      if (!message.ok()) {
        outcome = Status::Error(where + ": " + message.error());
        return false;
      }
      on_contact();
      if (message->canceled) {
        if (message->compact_revision > 0) {
          outcome = Status::Error(where + ": revision " + std::to_string(start_revision) +
                                      " is compacted (compaction at " +
                                      std::to_string(message->compact_revision) + ")",
                                  kCompacted);
        } else {
          outcome = Status::Error(where + ": canceled by etcd: " + message->cancel_reason);
        }
        return false;
      }
      for (const auto& event : message->events) {
        if (!on_event(event)) return false;  // outcome stays Ok
      }
      return true;
    });
    if (!fed.ok()) {
      outcome = Status::Error(where + ": " + fed.error());
      done = true;
      return false;
    }
    if (!fed.value()) done = true;
    return fed.value();
  };
  httplib::Result res = client.send(req);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (interrupted_ || closed_) return Status::Error(where + ": interrupted");
  }
  if (done) return outcome;
  if (!res) return Status::Error(where + ": " + httplib::to_string(res.error()));
  if (http_status != 200) {
    return Status::Error(where + ": HTTP " + std::to_string(http_status) + ": " + error_body);
  }
  return Status::Error(where + ": the stream ended");
}

void EtcdWatch::Interrupt() {
  std::lock_guard<std::mutex> lock(mu_);
  if (active_ == nullptr) return;
  interrupted_ = true;
  active_->stop();
}

void EtcdWatch::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (active_ != nullptr) {
    interrupted_ = true;
    active_->stop();
  }
}

}  // namespace redkube::configserver
