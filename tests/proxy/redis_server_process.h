// A real redis-server for unit tests that need one: started on 127.0.0.1
// with a free port, no persistence, waited for by an actual PING, stopped
// by its PID when the object goes.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/redis_client.h"
#include "core/topology.h"

namespace redkube::testing {

// A port nothing listens on now (the kernel's choice of a free one).
inline uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class RedisServerProcess {
 public:
  RedisServerProcess() : address_{"127.0.0.1", FreePort()} {
    std::string port = std::to_string(address_.port);
    pid_ = fork();
    if (pid_ == 0) {
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~RedisServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  // Waits (bounded) until the server answers PING.
  bool WaitReady() {
    RedisClient client(address_, "", std::chrono::milliseconds(200));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto reply = client.Command({"PING"});
      if (reply.ok() && reply.value().type == RedisReply::Type::kStatus) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, bounded by the deadline
    }
    return false;
  }

  const HostPort& address() const { return address_; }
  // One command on a connection of the test's own.
  RedisReply Command(const std::vector<std::string>& argv) {
    RedisClient client(address_, "", std::chrono::milliseconds(2000));
    auto reply = client.Command(argv);
    return reply.ok() ? reply.value() : RedisReply{RedisReply::Type::kError, reply.error(), 0, {}};
  }

 private:
  HostPort address_;
  pid_t pid_ = -1;
};

}  // namespace redkube::testing
