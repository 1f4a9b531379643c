#include "core/socket_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

namespace redkube {

Result<sockaddr_in> ResolveIPv4(const HostPort& address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(address.port);
  if (inet_pton(AF_INET, address.host.c_str(), &addr.sin_addr) == 1) return addr;
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(address.host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return Status::Error("cannot resolve host " + address.host);
  }
  addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  freeaddrinfo(res);
  return addr;
}

}  // namespace redkube
