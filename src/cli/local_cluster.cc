// What every command on an existing local cluster starts from: its layout,
// whether it runs, and where its ConfigServers answer.
#include <fmt/core.h>

#include "cli/commands.h"
#include "core/secret_file.h"
#include "runtime/local/cluster_directory.h"

namespace redkube::cli {

using namespace redkube::runtime;

std::string ClusterFlags(const std::string& dir, const std::string& name) {
  return (name == "demo" ? "" : " --name " + name) + (dir == ".redkube" ? "" : " --dir " + dir);
}

Result<LocalLayout> ExistingCluster(const std::string& dir, const std::string& name) {
  auto spec = LoadClusterSpec(dir, name);
  if (!spec.ok()) return spec.status();
  if (!spec.value()) {
    return Status::Error("there is no cluster named " + name + " in " + dir +
                         " (start one with `redkube up --name " + name +
                         (dir == ".redkube" ? "" : " --dir " + dir) + "`)");
  }
  return LocalLayout::Make(*spec.value(), dir);
}

Result<LocalLayout> RunningCluster(const std::string& dir, const std::string& name) {
  auto layout = ExistingCluster(dir, name);
  if (!layout.ok()) return layout;
  if (!RunningSupervisor(layout.value())) {
    return Status::Error(fmt::format("cluster {} is not running; start it with `redkube up --detach{}`", name,
                                     ClusterFlags(dir, name)));
  }
  return layout;
}

ControlPlane LocalControlPlane(const LocalLayout& layout) {
  auto token = ReadSecretFile(layout.TokenFile());
  ControlPlane plane{.configserver_urls = {}, .token = token.ok() ? token.value() : ""};
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    plane.configserver_urls.push_back("http://" + layout.host() + ":" +
                                      std::to_string(layout.ConfigServerPort(i)));
  }
  return plane;
}

}  // namespace redkube::cli
