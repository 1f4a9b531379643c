// Generating the values of a cluster's auth Secret (password, API token).
// Kept apart from the builders: generation is the one step that is not a
// pure function of the spec, and the reconciler does it once, when NAME-auth
// does not exist yet.
#pragma once

#include <string>

#include "core/status.h"

namespace redkube::op {

// 32 bytes from OpenSSL's CSPRNG (RAND_bytes) as 64 lowercase hex digits:
// 256 bits, and only characters that need no quoting in redis.conf, a
// command line or an HTTP header. An error if the generator cannot supply
// them (never a weaker value).
Result<std::string> GenerateSecretValue();

}  // namespace redkube::op
