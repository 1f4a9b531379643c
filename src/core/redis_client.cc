#include "core/redis_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/socket_address.h"
#include "core/strings.h"

namespace redkube {
namespace {

constexpr int kMaxDepth = 8;

std::string Encode(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

RedisClient::RedisClient(HostPort address, std::string password, std::chrono::milliseconds timeout)
    : address_(std::move(address)), password_(std::move(password)), timeout_(timeout) {}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  in_.clear();
  in_pos_ = 0;
}

Status RedisClient::Connect() {
  auto addr = ResolveIPv4(address_);
  if (!addr.ok()) return addr.status();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::Error(std::string("socket: ") + strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr.value()), sizeof(sockaddr_in)) != 0) {
    if (errno != EINPROGRESS) {
      std::string why = strerror(errno);
      Close();
      return Status::Error("connect " + address_.ToString() + ": " + why);
    }
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, MillisLeft(deadline_)) <= 0) {
      Close();
      return Status::Error("connect " + address_.ToString() + ": timed out");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Close();
      return Status::Error("connect " + address_.ToString() + ": " + strerror(err));
    }
  }
  if (!password_.empty()) {
    if (Status s = WriteAll(Encode({"AUTH", password_})); !s.ok()) return s;
    auto reply = ReadReply(0);
    if (!reply.ok()) return reply.status();
    if (reply->IsError()) {
      Close();
      return Status::Error("AUTH refused by " + address_.ToString() + ": " + reply->str);
    }
  }
  return Status::Ok();
}

Result<RedisReply> RedisClient::Command(const std::vector<std::string>& argv) {
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  if (fd_ < 0) {
    if (Status s = Connect(); !s.ok()) return s;
  }
  if (Status s = WriteAll(Encode(argv)); !s.ok()) return s;
  auto reply = ReadReply(0);
  if (!reply.ok()) Close();
  return reply;
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  if (fd_ < 0) {
    if (Status s = Connect(); !s.ok()) return s;
  }
  std::string out;
  for (const auto& argv : commands) out += Encode(argv);
  if (Status s = WriteAll(out); !s.ok()) return s;
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    auto reply = ReadReply(0);
    if (!reply.ok()) {
      Close();
      return reply.status();
    }
    replies.push_back(std::move(reply.value()));
  }
  return replies;
}

Status RedisClient::WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      std::string why = strerror(errno);
      Close();
      return Status::Error("write to " + address_.ToString() + ": " + why);
    }
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, MillisLeft(deadline_)) <= 0) {
      Close();
      return Status::Error("write to " + address_.ToString() + ": timed out");
    }
  }
  return Status::Ok();
}

Status RedisClient::Fill() {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  char buf[16 * 1024];
  while (true) {
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return Status::Ok();
    }
    if (n == 0) {
      Close();
      return Status::Error(address_.ToString() + " closed the connection");
    }
    if (errno != EAGAIN && errno != EINTR) {
      std::string why = strerror(errno);
      Close();
      return Status::Error("read from " + address_.ToString() + ": " + why);
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, MillisLeft(deadline_)) <= 0) {
      Close();
      return Status::Error("no reply from " + address_.ToString() + " in time");
    }
  }
}

Result<std::string> RedisClient::ReadLine() {
  while (true) {
    size_t eol = in_.find("\r\n", in_pos_);
    if (eol != std::string::npos) {
      std::string line = in_.substr(in_pos_, eol - in_pos_);
      in_pos_ = eol + 2;
      return line;
    }
    if (Status s = Fill(); !s.ok()) return s;
  }
}

Status RedisClient::ReadExactly(size_t n, std::string* out) {
  while (in_.size() - in_pos_ < n) {
    if (Status s = Fill(); !s.ok()) return s;
  }
  out->assign(in_, in_pos_, n);
  in_pos_ += n;
  return Status::Ok();
}

Result<RedisReply> RedisClient::ReadReply(int depth) {
  if (depth > kMaxDepth) return Status::Error("reply nested too deeply");
  auto line = ReadLine();
  if (!line.ok()) return line.status();
  const std::string& l = line.value();
  if (l.empty()) {
    Close();
    return Status::Error("malformed reply from " + address_.ToString());
  }
  RedisReply r;
  std::string_view rest(l.data() + 1, l.size() - 1);
  int64_t n = 0;
  auto number = [&]() {
    auto parsed = ParseInt64(rest);
    if (parsed) n = *parsed;
    return parsed.has_value();
  };
  switch (l[0]) {
    case '+':
      r.type = RedisReply::Type::kStatus;
      r.str = rest;
      return r;
    case '-':
      r.type = RedisReply::Type::kError;
      r.str = rest;
      return r;
    case ':':
      if (!number()) break;
      r.type = RedisReply::Type::kInteger;
      r.integer = n;
      return r;
    case '$': {
      if (!number()) break;
      if (n < 0) return r;  // nil
      std::string data;
      if (Status s = ReadExactly(static_cast<size_t>(n) + 2, &data); !s.ok()) return s;
      data.resize(static_cast<size_t>(n));
      r.type = RedisReply::Type::kBulk;
      r.str = std::move(data);
      return r;
    }
    case '*': {
      if (!number()) break;
      if (n < 0) return r;
      r.type = RedisReply::Type::kArray;
      for (int64_t i = 0; i < n; ++i) {
        auto e = ReadReply(depth + 1);
        if (!e.ok()) return e.status();
        r.elements.push_back(std::move(e.value()));
      }
      return r;
    }
    default:
      break;
  }
  Close();
  return Status::Error("malformed reply from " + address_.ToString());
}

std::vector<std::pair<std::string, std::string>> ParseInfoFields(std::string_view info) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!info.empty()) {
    size_t eol = info.find('\n');
    std::string_view line = info.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (!line.empty() && line[0] != '#' && colon != std::string_view::npos) {
      out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    if (eol == std::string_view::npos) break;
    info.remove_prefix(eol + 1);
  }
  return out;
}

std::string InfoField(std::string_view info, std::string_view key) {
  for (auto& [k, v] : ParseInfoFields(info)) {
    if (k == key) return v;
  }
  return {};
}

}  // namespace redkube
