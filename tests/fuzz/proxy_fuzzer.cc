// libFuzzer target: client bytes -> a whole proxy, in process, over a real
// socket: its worker thread, the client session, the command dispatcher and
// everything behind it (local commands, transactions, pub/sub, split and
// fan-out requests, WAIT, SCAN cursors, SLOWLOG, CLIENT...). Its servers
// refuse connections, so whatever needs one is answered -TRYAGAIN: what is
// fuzzed is the proxy's own handling of requests, before and after a server.
// A crash or sanitizer report in the worker thread ends the run with the
// input; so does a proxy that has not closed the connection 10 s after the
// client finished sending (a hang).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/topology.h"
#include "proxy/proxy_server.h"

using namespace redkube;
using namespace redkube::proxy;

namespace {

ProxyServer* g_server = nullptr;
uint16_t g_port = 0;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A socket bound to a loopback port of the kernel's pick; *port is set.
int BoundSocket(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) abort();
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port that refuses connections: bound, never listening, and kept for the
// process's life so that no other process can take it.
uint16_t RefusingPort() {
  uint16_t port;
  BoundSocket(&port);
  return port;
}

// A free port for the proxy to listen on (picked, then released).
uint16_t FreePort() {
  uint16_t port;
  close(BoundSocket(&port));
  return port;
}

int Connect() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(g_port);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) abort();
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Sends `input`, then half-closes and reads until the proxy closes.
void Exchange(const uint8_t* input, size_t size) {
  int fd = Connect();
  for (size_t sent = 0; sent < size;) {
    ssize_t n = send(fd, input + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the proxy closed early (QUIT, a protocol error)
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      fprintf(stderr, "the proxy kept the connection open 10 s after the client's last byte\n");
      abort();
    }
    break;
  }
  close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  auto address = [](uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
  nlohmann::json shards = nlohmann::json::array();
  const int ranges[3][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
  for (int i = 0; i < 3; ++i) {
    shards.push_back({{"id", "s" + std::to_string(i)},
                      {"master", address(RefusingPort())},
                      {"replicas", {address(RefusingPort())}},
                      {"slots", {{ranges[i][0], ranges[i][1]}}}});
  }
  nlohmann::json doc = {
      {"cluster", "fuzz"}, {"epoch", 1}, {"migrations", nlohmann::json::array()}, {"shards", shards}};
  auto topology = Topology::FromJson(doc.dump());
  if (!topology.ok()) abort();
  ProxyOptions options;
  options.port = FreePort();
  options.threads = 1;
  options.shutdown_grace_ms = 1000;
  options.slowlog_slower_than_us = 0;  // every request goes through SLOWLOG's capture
  g_port = options.port;
  g_server = new ProxyServer(options, topology.value());
  if (!g_server->Start().ok()) abort();
  // Kept until the process exits: the worker thread serves every input, so
  // state (scripts, SLOWLOG) carries over from one input to the next, and a
  // saved crash input may need the ones before it to crash again.
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Exchange(data, size);
  return 0;
}
