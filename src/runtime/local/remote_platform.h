// The Platform of a local cluster as seen from another process than its
// supervisor (`redkube scale`): server-group calls go to the supervisor's
// PlatformControlServer, which owns the processes. The rest (control plane,
// proxies, member replacement) is the supervisor's own business and answers
// "not supported here".
#pragma once

#include <string>

#include "runtime/platform.h"

namespace redkube::runtime {

class RemotePlatform : public Platform {
 public:
  explicit RemotePlatform(std::string socket_path);

  // A restart happens in the supervisor, which has its own observer.
  void SetServerRestartObserver(ServerRestartObserver* /*observer*/) override {}
  Result<ControlPlane> EnsureControlPlane() override { return NotHere("EnsureControlPlane"); }
  Status EnsureServerGroup(const std::string& group, int size, const std::string& version) override;
  Result<Readiness> MembersReady(const std::string& group) override;
  Result<std::vector<Member>> ListMembers(const std::string& group) override;
  Status ReplaceMember(const std::string& /*group*/, int /*index*/) override {
    return NotHere("ReplaceMember");
  }
  Status RemoveServerGroup(const std::string& group) override;
  Result<std::vector<std::string>> ListServerGroups() override;
  Status EnsureProxies(int /*count*/, const ControlPlane& /*plane*/) override {
    return NotHere("EnsureProxies");
  }
  Result<Readiness> ProxiesReady() override { return NotHere("ProxiesReady"); }
  std::vector<Member> ListProxies() override { return {}; }

 private:
  static Status NotHere(const std::string& what) {
    return Status::Error(what + " is not supported through the supervisor's control socket");
  }

  std::string socket_path_;
};

}  // namespace redkube::runtime
