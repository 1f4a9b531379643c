#include "core/secret_file.h"

#include <fstream>
#include <sstream>

namespace redkube {

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Status::Error("secret file " + path + " is empty");
  return secret;
}

}  // namespace redkube
