#include "runtime/local/remote_platform.h"

#include <httplib.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

namespace redkube::runtime {
namespace {

using nlohmann::json;

struct Answer {
  int status = 0;
  json body;
};

// One call to the control socket; `read_timeout` bounds the whole answer.
Result<Answer> Call(const std::string& socket_path, const std::string& method, const std::string& path,
                    const json& body, std::chrono::seconds read_timeout) {
  httplib::Client client(socket_path);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(read_timeout.count(), 0);
  const std::string payload = body.is_null() ? "" : body.dump();
  httplib::Result res = method == "GET"    ? client.Get(path)
                        : method == "PUT"  ? client.Put(path, payload, "application/json")
                        : method == "POST" ? client.Post(path, payload, "application/json")
                                           : client.Delete(path);
  if (!res) {
    return Status::Error("the cluster's supervisor does not answer on " + socket_path + " (" +
                         httplib::to_string(res.error()) + ")");
  }
  Answer answer{res->status, json::parse(res->body, nullptr, false)};
  if (answer.status != 200) {
    bool has_error =
        answer.body.is_object() && answer.body.contains("error") && answer.body["error"].is_string();
    return Status::Error(has_error ? answer.body["error"].get<std::string>()
                                   : "HTTP " + std::to_string(answer.status) + " from the supervisor");
  }
  return answer;
}

Status StatusOf(const Result<Answer>& answer) { return answer.ok() ? Status::Ok() : answer.status(); }

}  // namespace

RemotePlatform::RemotePlatform(std::string socket_path) : socket_path_(std::move(socket_path)) {}

Status RemotePlatform::EnsureServerGroup(const std::string& group, int size, const std::string& version) {
  return StatusOf(Call(socket_path_, "PUT", "/v1/groups/" + group, json{{"size", size}, {"version", version}},
                       std::chrono::seconds(30)));
}

Result<Readiness> RemotePlatform::MembersReady(const std::string& group) {
  auto answer =
      Call(socket_path_, "GET", "/v1/groups/" + group + "/ready", nullptr, std::chrono::seconds(30));
  if (!answer.ok()) return answer.status();
  const json& body = answer->body;
  if (!body.is_object() || !body.contains("ready") || !body["ready"].is_boolean()) {
    return Status::Error("the supervisor's readiness answer has no \"ready\"");
  }
  return Readiness{.ready = body["ready"].get<bool>(), .waiting_for = body.value("waiting_for", "")};
}

Result<std::vector<Member>> RemotePlatform::ListMembers(const std::string& group) {
  auto answer =
      Call(socket_path_, "GET", "/v1/groups/" + group + "/members", nullptr, std::chrono::seconds(10));
  if (!answer.ok()) return answer.status();
  std::vector<Member> members;
  for (const auto& m : answer->body.value("members", json::array())) {
    auto address = ParseHostPort(m.value("address", ""));
    if (!address.ok()) return Status::Error("the supervisor listed a bad address: " + address.error());
    members.push_back(Member{.name = m.value("name", ""),
                             .address = address.value(),
                             .running = m.value("running", false),
                             .restarts = m.value("restarts", 0)});
  }
  return members;
}

Status RemotePlatform::RemoveServerGroup(const std::string& group) {
  // Each member gets up to 30 s to write its last AOF fsync (see StopAll).
  return StatusOf(Call(socket_path_, "DELETE", "/v1/groups/" + group, nullptr, std::chrono::seconds(330)));
}

Result<std::vector<std::string>> RemotePlatform::ListServerGroups() {
  auto answer = Call(socket_path_, "GET", "/v1/groups", nullptr, std::chrono::seconds(10));
  if (!answer.ok()) return answer.status();
  std::vector<std::string> groups;
  for (const auto& g : answer->body.value("groups", json::array())) {
    if (g.is_string()) groups.push_back(g.get<std::string>());
  }
  return groups;
}

}  // namespace redkube::runtime
