// An in-memory Platform for workflow tests: nothing runs. Server groups and
// proxies exist once ensured, and their members "become ready" only when
// the test says so (or, with `ready_after`, once their group has been asked
// that many times: for a workflow that blocks while it waits). Every call
// is counted, so a test can check that a repeated Step() ensures and
// registers nothing twice; a group started, first answering ready and
// removed is appended to `*events` when set. Single-threaded.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/platform.h"

namespace redkube::runtime::testing {

class FakePlatform : public Platform {
 public:
  // Member M of group shard-K listens on 127.0.0.1:(7000 + 100*K + M) —
  // any group name works; its index is its order of first EnsureServerGroup.
  void SetServerRestartObserver(ServerRestartObserver* observer) override { observer_ = observer; }

  Result<ControlPlane> EnsureControlPlane() override {
    ++calls["EnsureControlPlane"];
    if (!control_plane_error.empty()) return Status::Error(control_plane_error);
    return plane;
  }

  Status EnsureServerGroup(const std::string& group, int size, const std::string& /*version*/) override {
    ++calls["EnsureServerGroup"];
    if (fail_group == group) return Status::Error("cannot start " + group);
    auto it = groups_.find(group);
    if (it != groups_.end()) {
      if (static_cast<int>(it->second.size()) != size) return Status::Error(group + " has another size");
      return Status::Ok();
    }
    ++calls["StartedGroup"];
    Note("start " + group);
    asked_[group] = 0;
    const int index = next_index_++;
    std::vector<Member> members;
    for (int m = 0; m < size; ++m) {
      members.push_back(
          Member{.name = group + "-" + std::to_string(m),
                 .address = HostPort{"127.0.0.1", static_cast<uint16_t>(7000 + 100 * index + m)},
                 .running = true,
                 .restarts = 0});
    }
    groups_[group] = std::move(members);
    order_.push_back(group);
    return Status::Ok();
  }

  Result<Readiness> MembersReady(const std::string& group) override {
    ++calls["MembersReady"];
    auto it = groups_.find(group);
    if (it == groups_.end()) return Status::Error("no server group " + group);
    if (ready_after > 0 && ++asked_[group] >= ready_after) SetGroupReady(group);
    for (const auto& m : it->second) {
      if (!ready_.count(m.name)) return Readiness{.ready = false, .waiting_for = m.name + " not ready"};
    }
    if (said_ready_.insert(group).second) Note("ready " + group);
    return Readiness{.ready = true, .waiting_for = ""};
  }

  Result<std::vector<Member>> ListMembers(const std::string& group) override {
    auto it = groups_.find(group);
    if (it == groups_.end()) return Status::Error("no server group " + group);
    return it->second;
  }

  Status ReplaceMember(const std::string& group, int index) override {
    ready_.erase(group + "-" + std::to_string(index));
    return Status::Ok();
  }

  Status RemoveServerGroup(const std::string& group) override {
    ++calls["RemoveServerGroup"];
    Note("remove " + group);
    said_ready_.erase(group);
    for (const auto& m : groups_[group]) ready_.erase(m.name);
    groups_.erase(group);
    std::erase(order_, group);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListServerGroups() override { return order_; }

  Status EnsureProxies(int count, const ControlPlane& control_plane) override {
    ++calls["EnsureProxies"];
    if (!(control_plane == plane)) return Status::Error("proxies given another control plane");
    proxies_ = count;
    return Status::Ok();
  }

  Result<Readiness> ProxiesReady() override {
    if (proxies_ == 0) return Readiness{.ready = false, .waiting_for = "no proxies"};
    if (!proxies_ready) return Readiness{.ready = false, .waiting_for = "proxy-0 not ready"};
    return Readiness{.ready = true, .waiting_for = ""};
  }

  std::vector<Member> ListProxies() override {
    std::vector<Member> out;
    for (int i = 0; i < proxies_; ++i) {
      out.push_back(Member{.name = "proxy-" + std::to_string(i),
                           .address = HostPort{"127.0.0.1", static_cast<uint16_t>(6379 + i)},
                           .running = true,
                           .restarts = 0});
    }
    return out;
  }

  // What the test controls.
  void SetReady(const std::string& member, bool ready = true) {
    if (ready) {
      ready_.insert(member);
    } else {
      ready_.erase(member);
    }
  }
  void SetGroupReady(const std::string& group) {
    for (const auto& m : groups_[group]) ready_.insert(m.name);
  }
  bool HasGroup(const std::string& group) const { return groups_.count(group) > 0; }
  int proxy_count() const { return proxies_; }

  ControlPlane plane{.configserver_urls = {"http://127.0.0.1:1"}, .token = "token"};
  std::string control_plane_error;  // set: EnsureControlPlane fails with it
  std::string fail_group;           // EnsureServerGroup of it fails
  bool proxies_ready = false;
  int ready_after = 0;  // > 0: a group is ready at its Nth MembersReady
  std::map<std::string, int> calls;
  std::vector<std::string>* events = nullptr;

 private:
  void Note(const std::string& event) {
    if (events != nullptr) events->push_back(event);
  }

  ServerRestartObserver* observer_ = nullptr;
  std::map<std::string, std::vector<Member>> groups_;
  std::vector<std::string> order_;
  int next_index_ = 0;
  std::set<std::string> ready_;
  std::map<std::string, int> asked_;  // MembersReady calls since started
  std::set<std::string> said_ready_;  // groups MembersReady answered ready
  int proxies_ = 0;
};

}  // namespace redkube::runtime::testing
