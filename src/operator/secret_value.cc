#include "operator/secret_value.h"

#include <openssl/rand.h>

#include <array>

#include "core/strings.h"

namespace redkube::op {

Result<std::string> GenerateSecretValue() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Status::Error("RAND_bytes: the random generator could not supply a secret");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace redkube::op
