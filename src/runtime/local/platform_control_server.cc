#include "runtime/local/platform_control_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace redkube::runtime {
namespace {

using nlohmann::json;

const char* const kGroup = "/v1/groups/(shard-[0-9]+)";

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void ReplyStatus(httplib::Response& res, const Status& s) {
  if (s.ok()) return Reply(res, 200, json::object());
  Reply(res, 500, json{{"error", s.message()}});
}

// The request's JSON object body, or nothing (and a 400 sent).
std::optional<json> BodyOf(const httplib::Request& req, httplib::Response& res) {
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    Reply(res, 400, json{{"error", "the body must be a JSON object"}});
    return std::nullopt;
  }
  return body;
}

}  // namespace

PlatformControlServer::PlatformControlServer(Platform* platform, std::string socket_path)
    : platform_(platform),
      socket_path_(std::move(socket_path)),
      server_(std::make_unique<httplib::Server>()) {}

PlatformControlServer::~PlatformControlServer() { Stop(); }

void PlatformControlServer::Routes() {
  httplib::Server& s = *server_;
  s.Get("/v1/groups", [this](const httplib::Request&, httplib::Response& res) {
    auto groups = platform_->ListServerGroups();
    if (!groups.ok()) return ReplyStatus(res, groups.status());
    Reply(res, 200, json{{"groups", groups.value()}});
  });
  s.Put(kGroup, [this](const httplib::Request& req, httplib::Response& res) {
    auto body = BodyOf(req, res);
    if (!body) return;
    if (!(*body)["size"].is_number_integer())
      return Reply(res, 400, json{{"error", "\"size\" must be an integer"}});
    ReplyStatus(res, platform_->EnsureServerGroup(req.matches[1], (*body)["size"].get<int>(),
                                                  body->value("version", "")));
  });
  s.Get(std::string(kGroup) + "/ready", [this](const httplib::Request& req, httplib::Response& res) {
    auto readiness = platform_->MembersReady(req.matches[1]);
    if (!readiness.ok()) return ReplyStatus(res, readiness.status());
    Reply(res, 200, json{{"ready", readiness->ready}, {"waiting_for", readiness->waiting_for}});
  });
  s.Get(std::string(kGroup) + "/members", [this](const httplib::Request& req, httplib::Response& res) {
    auto members = platform_->ListMembers(req.matches[1]);
    if (!members.ok()) return ReplyStatus(res, members.status());
    json list = json::array();
    for (const auto& m : members.value()) {
      list.push_back({{"name", m.name},
                      {"address", m.address.ToString()},
                      {"running", m.running},
                      {"restarts", m.restarts}});
    }
    Reply(res, 200, json{{"members", list}});
  });
  s.Delete(kGroup, [this](const httplib::Request& req, httplib::Response& res) {
    ReplyStatus(res, platform_->RemoveServerGroup(req.matches[1]));
  });
}

Status PlatformControlServer::Start() {
  if (socket_path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::Error("the control socket path " + socket_path_ +
                         " is longer than a Unix socket allows (" +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes); use a shorter --dir");
  }
  Routes();
  server_->set_address_family(AF_UNIX);
  unlink(socket_path_.c_str());  // left by a supervisor that died; the lock says none runs now
  if (!server_->bind_to_port(socket_path_, 80)) return Status::Error("cannot listen on " + socket_path_);
  // The endpoint changes the cluster: only its user may connect. (Connecting
  // needs write permission, which the umask already denies others; no
  // process-wide umask change, other threads create files meanwhile.)
  chmod(socket_path_.c_str(), 0600);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void PlatformControlServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
  unlink(socket_path_.c_str());
}

}  // namespace redkube::runtime
