// Secrets (the cluster password, API tokens) are passed as files, like a
// mounted Kubernetes Secret, never on the command line.
#pragma once

#include <string>

#include "core/status.h"

namespace redkube {

// The file's content without trailing newlines; an error if it cannot be
// read or is empty.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace redkube
