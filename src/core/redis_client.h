// A small blocking Redis client for the control plane (ConfigServer probes,
// REPLICAOF, FAILOVER; the local runtime's readiness checks). One connection,
// one command at a time, every call bounded by a timeout. Not for the proxy's
// request path, which is event-driven. Not thread-safe: one owner at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/topology.h"

namespace redkube {

// A parsed RESP2 reply.
struct RedisReply {
  enum class Type { kStatus, kError, kInteger, kBulk, kNil, kArray };
  Type type = Type::kNil;
  std::string str;  // kStatus, kError, kBulk
  int64_t integer = 0;
  std::vector<RedisReply> elements;

  bool IsError() const { return type == Type::kError; }
  bool IsOk() const { return type == Type::kStatus && str == "OK"; }
};

class RedisClient {
 public:
  RedisClient(HostPort address, std::string password, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and reads its reply, connecting (and authenticating)
  // first if needed. An error *reply* is a value (IsError()); a failed
  // connection, timeout or malformed reply is an error Result, after which the
  // connection is closed and the next call reconnects.
  Result<RedisReply> Command(const std::vector<std::string>& argv);
  // Sends every command at once, then reads their replies in order (one
  // round trip; the timeout bounds the whole exchange). Error replies are
  // values, as above.
  Result<std::vector<RedisReply>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

  const HostPort& address() const { return address_; }
  void Close();

 private:
  Status Connect();
  Status WriteAll(std::string_view data);
  Result<RedisReply> ReadReply(int depth);
  Result<std::string> ReadLine();
  Status ReadExactly(size_t n, std::string* out);
  Status Fill();

  HostPort address_;
  std::string password_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;
  int fd_ = -1;
  std::string in_;
  size_t in_pos_ = 0;
};

// Fields of an INFO reply ("key:value" lines), e.g. INFO replication's role.
std::vector<std::pair<std::string, std::string>> ParseInfoFields(std::string_view info);
std::string InfoField(std::string_view info, std::string_view key);

}  // namespace redkube
