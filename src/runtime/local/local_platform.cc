#include "runtime/local/local_platform.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/redis_client.h"
#include "core/strings.h"
#include "runtime/local/cluster_directory.h"
#include "runtime/server_start.h"
#include "runtime/shard_name.h"

namespace redkube::runtime {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto kPollInterval = std::chrono::milliseconds(100);

std::string Url(const std::string& host, int port) { return "http://" + host + ":" + std::to_string(port); }

}  // namespace

LocalPlatform::LocalPlatform(LocalLayout layout, std::string password, std::string token,
                             std::string binary_dir)
    : layout_(std::move(layout)),
      password_(std::move(password)),
      token_(std::move(token)),
      binary_dir_(std::move(binary_dir)),
      group_count_(layout_.spec().shards),
      supervisor_([this] { WriteProcessesFile(); }) {}

LocalPlatform::~LocalPlatform() { StopAll(); }

Status LocalPlatform::WaitHttpOk(const std::string& url, const std::string& what,
                                 std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    httplib::Client client(url);
    client.set_connection_timeout(0, 300000);
    client.set_read_timeout(1, 0);
    auto res = client.Get(what);
    if (res && res->status == 200) return Status::Ok();
    last = res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status::Error(url + what + " not ready after " + std::to_string(timeout.count()) + " ms (" + last +
                       ")");
}

std::optional<std::string> LocalPlatform::PingProblem(const HostPort& address) const {
  RedisClient client(address, password_, std::chrono::milliseconds(500));
  auto reply = client.Command({"PING"});
  if (reply.ok() && reply->type == RedisReply::Type::kStatus && reply->str == "PONG") return std::nullopt;
  return reply.ok() ? reply->str : reply.error();
}

Readiness LocalPlatform::ReadinessOf(const std::vector<Member>& members) const {
  for (const auto& m : members) {
    if (auto problem = PingProblem(m.address)) {
      return Readiness{.ready = false,
                       .waiting_for = m.name + " (" + m.address.ToString() + "): " + *problem +
                                      " (log: " + layout_.LogFile(m.name) + ")"};
    }
  }
  return Readiness{.ready = true, .waiting_for = ""};
}

Result<ControlPlane> LocalPlatform::EnsureControlPlane() {
  const std::string host = layout_.host();
  if (!supervisor_.Has("etcd")) {
    std::string client_url = Url(host, layout_.EtcdClientPort());
    std::string peer_url = Url(host, layout_.EtcdPeerPort());
    const std::string& name = layout_.spec().name;
    Status s = supervisor_.Start(
        {.name = "etcd",
         .argv = {"etcd", "--name", name, "--data-dir", layout_.EtcdDataDir(), "--listen-client-urls",
                  client_url, "--advertise-client-urls", client_url, "--listen-peer-urls", peer_url,
                  "--initial-advertise-peer-urls", peer_url, "--initial-cluster", name + "=" + peer_url},
         .log_path = layout_.LogFile("etcd")});
    if (!s.ok()) return s;
  }
  if (Status s = WaitHttpOk(Url(host, layout_.EtcdClientPort()), "/health", std::chrono::seconds(30));
      !s.ok()) {
    return s;
  }
  ControlPlane plane{.configserver_urls = {}, .token = token_};
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    std::string name = LocalLayout::ConfigServerName(i);
    std::string listen = host + ":" + std::to_string(layout_.ConfigServerPort(i));
    plane.configserver_urls.push_back(Url(host, layout_.ConfigServerPort(i)));
    if (supervisor_.Has(name)) continue;
    Status s = supervisor_.Start(
        {.name = name,
         .argv = {binary_dir_ + "/redkube-configserver", "--etcd", Url(host, layout_.EtcdClientPort()),
                  "--listen", listen, "--token-file", layout_.TokenFile(), "--password-file",
                  layout_.PasswordFile(), "--id", name},
         .log_path = layout_.LogFile(name)});
    if (!s.ok()) return s;
  }
  for (const auto& url : plane.configserver_urls) {
    if (Status s = WaitHttpOk(url, "/healthz", std::chrono::seconds(30)); !s.ok()) return s;
  }
  return plane;
}

Result<int> LocalPlatform::ShardIndex(const std::string& group) const {
  if (auto index = ShardIndexOf(group); index && *index < LocalLayout::MaxShards(layout_.spec().port)) {
    return *index;
  }
  return Status::Error("the local runtime has no server group " + group);
}

Status LocalPlatform::WriteServerConfig(int shard, int member,
                                        const std::optional<HostPort>& replica_of) const {
  // The same redis.conf as the init container writes on Kubernetes. The
  // password is in it, in a 0600 file, never on the command line where ps
  // would show it (the local counterpart of a mounted Secret).
  const std::string dir = layout_.ServerDataDir(shard, member);
  return WritePrivateFile(dir + "/redkube.conf",
                          RenderServerConfig(ServerConfig{.bind = layout_.host(),
                                                          .port = layout_.ServerPort(shard, member),
                                                          .dir = dir,
                                                          .password = password_,
                                                          .include = "",
                                                          .replica_of = replica_of}));
}

std::vector<std::string> LocalPlatform::ServerArgv(int shard, int member,
                                                   const std::optional<HostPort>& replica_of) const {
  std::vector<std::string> argv = {"redis-server", layout_.ServerDataDir(shard, member) + "/redkube.conf"};
  // Only when the config could not be rewritten: the command line wins over
  // the file, so the member still never starts as a master by mistake.
  if (replica_of) {
    argv.insert(argv.end(), {"--replicaof", replica_of->host, std::to_string(replica_of->port)});
  }
  return argv;
}

Member LocalPlatform::MemberOf(const std::string& name, int port) const {
  Member m{.name = name, .address = HostPort{layout_.host(), static_cast<uint16_t>(port)}};
  for (const auto& state : supervisor_.Snapshot()) {
    if (state.name == name) {
      m.running = state.running;
      m.restarts = state.restarts;
    }
  }
  return m;
}

Status LocalPlatform::StartServer(int shard, int member) {
  std::error_code ec;
  fs::create_directories(layout_.ServerDataDir(shard, member), ec);
  if (ec) return Status::Error("cannot create " + layout_.ServerDataDir(shard, member) + ": " + ec.message());
  if (Status s = WriteServerConfig(shard, member, std::nullopt); !s.ok()) return s;
  const std::string group = LocalLayout::ShardId(shard);
  const std::string name = LocalLayout::ServerName(shard, member);
  const int port = layout_.ServerPort(shard, member);
  ProcessSpec spec{
      .name = name, .argv = ServerArgv(shard, member, std::nullopt), .log_path = layout_.LogFile(name)};
  spec.before_restart = [this, shard, member, group, name, port] {
    std::optional<HostPort> master;
    if (ServerRestartObserver* observer = observer_) {
      master = observer->BeforeRestart(group, MemberOf(name, port));
    }
    if (master) spdlog::info("{} starts again as a replica of {}", name, master->ToString());
    if (Status s = WriteServerConfig(shard, member, master); !s.ok()) {
      spdlog::error("{}: {}", name, s.message());
      return ServerArgv(shard, member, master);
    }
    return ServerArgv(shard, member, std::nullopt);
  };
  spec.after_restart = [this, group, name, port] {
    if (ServerRestartObserver* observer = observer_) observer->AfterRestart(group, MemberOf(name, port));
  };
  return supervisor_.Start(std::move(spec));
}

Status LocalPlatform::EnsureServerGroup(const std::string& group, int size, const std::string& version) {
  auto shard = ShardIndex(group);
  if (!shard.ok()) return shard.status();
  if (!version.empty()) {
    return Status::Error("the local runtime runs the installed redis-server; it cannot pin version " +
                         version);
  }
  if (size < 1 || size > LocalLayout::kMaxMembersPerShard) {
    return Status::Error("a server group has 1 to " + std::to_string(LocalLayout::kMaxMembersPerShard) +
                         " members");
  }
  std::lock_guard groups_lock(groups_mu_);
  int count;
  {
    std::lock_guard lock(mu_);
    count = group_count_;
  }
  if (shard.value() > count) {
    return Status::Error("server groups are added in order: " + LocalLayout::ShardId(count) + " comes first");
  }
  if (shard.value() == count) {
    auto grown = layout_.WithShards(count + 1);
    if (!grown.ok()) return grown.status();
    for (int m = 0; m < size; ++m) {
      if (PortTaken(layout_.ServerPort(count, m))) {
        return Status::Error("port " + std::to_string(layout_.ServerPort(count, m)) +
                             " on 127.0.0.1 is in use by another program; " + group + " cannot start");
      }
    }
    if (Status s = SaveClusterSpec(grown.value()); !s.ok()) return s;
    std::lock_guard lock(mu_);
    group_count_ = count + 1;
  }
  {
    std::lock_guard lock(mu_);
    group_sizes_[group] = size;
  }
  for (int m = 0; m < size; ++m) {
    if (supervisor_.Has(LocalLayout::ServerName(shard.value(), m))) continue;
    if (Status s = StartServer(shard.value(), m); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<Member>> LocalPlatform::ListMembers(const std::string& group) {
  auto shard = ShardIndex(group);
  if (!shard.ok()) return shard.status();
  int size;
  {
    std::lock_guard lock(mu_);
    auto it = group_sizes_.find(group);
    if (it == group_sizes_.end()) return Status::Error("server group " + group + " is not running");
    size = it->second;
  }
  std::vector<Member> members;
  for (int m = 0; m < size; ++m) {
    members.push_back(
        MemberOf(LocalLayout::ServerName(shard.value(), m), layout_.ServerPort(shard.value(), m)));
  }
  return members;
}

Result<Readiness> LocalPlatform::MembersReady(const std::string& group) {
  auto members = ListMembers(group);
  if (!members.ok()) return members.status();
  return ReadinessOf(members.value());
}

Status LocalPlatform::ReplaceMember(const std::string& group, int index) {
  auto shard = ShardIndex(group);
  if (!shard.ok()) return shard.status();
  supervisor_.Stop(LocalLayout::ServerName(shard.value(), index));
  return StartServer(shard.value(), index);
}

Status LocalPlatform::RemoveServerGroup(const std::string& group) {
  auto shard = ShardIndex(group);
  if (!shard.ok()) return shard.status();
  std::lock_guard groups_lock(groups_mu_);
  int count;
  {
    std::lock_guard lock(mu_);
    count = group_count_;
  }
  if (shard.value() < count - 1) {
    return Status::Error("server groups are removed from the end: " + LocalLayout::ShardId(count - 1) +
                         " goes first");
  }
  if (shard.value() == 0 && count == 1) return Status::Error("a cluster keeps at least one server group");
  for (int m = 0; m < LocalLayout::kMaxMembersPerShard; ++m) {
    supervisor_.Stop(LocalLayout::ServerName(shard.value(), m), std::chrono::seconds(30));
    std::error_code ec;
    fs::remove_all(layout_.ServerDataDir(shard.value(), m), ec);
    if (ec) {
      return Status::Error("cannot delete " + layout_.ServerDataDir(shard.value(), m) + ": " + ec.message());
    }
  }
  {
    std::lock_guard lock(mu_);
    group_sizes_.erase(group);
  }
  if (shard.value() == count - 1) {
    auto shrunk = layout_.WithShards(count - 1);
    if (!shrunk.ok()) return shrunk.status();
    if (Status s = SaveClusterSpec(shrunk.value()); !s.ok()) return s;
    std::lock_guard lock(mu_);
    group_count_ = count - 1;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> LocalPlatform::ListServerGroups() {
  std::lock_guard lock(mu_);
  std::vector<std::string> groups;
  for (int k = 0; k < group_count_; ++k) {
    if (group_sizes_.count(LocalLayout::ShardId(k)) > 0) groups.push_back(LocalLayout::ShardId(k));
  }
  return groups;
}

Status LocalPlatform::EnsureProxies(int count, const ControlPlane& control_plane) {
  std::string urls;
  for (const auto& url : control_plane.configserver_urls) urls += (urls.empty() ? "" : ",") + url;
  for (int i = count; i < LocalLayout::kMaxProxies; ++i) supervisor_.Stop(LocalLayout::ProxyName(i));
  for (int i = 0; i < count; ++i) {
    std::string name = LocalLayout::ProxyName(i);
    if (supervisor_.Has(name)) continue;
    Status s = supervisor_.Start(
        {.name = name,
         .argv = {binary_dir_ + "/redkube-proxy", "--port", std::to_string(layout_.ProxyPort(i)), "--bind",
                  layout_.host(), "--announce-address",
                  layout_.host() + ":" + std::to_string(layout_.ProxyPort(i)), "--configserver", urls, "--cluster", layout_.spec().name, "--token-file",
                  layout_.TokenFile(), "--password-file", layout_.PasswordFile(), "--admin-port",
                  std::to_string(layout_.ProxyAdminPort(i)), "--shutdown-grace-ms", "2000", "--id", name},
         .log_path = layout_.LogFile(name)});
    if (!s.ok()) return s;
  }
  std::lock_guard lock(mu_);
  proxy_count_ = count;
  return Status::Ok();
}

std::vector<Member> LocalPlatform::ListProxies() {
  int count;
  {
    std::lock_guard lock(mu_);
    count = proxy_count_;
  }
  std::vector<Member> proxies;
  for (int i = 0; i < count; ++i) {
    proxies.push_back(MemberOf(LocalLayout::ProxyName(i), layout_.ProxyPort(i)));
  }
  return proxies;
}

Result<Readiness> LocalPlatform::ProxiesReady() { return ReadinessOf(ListProxies()); }

void LocalPlatform::StopAll() {
  supervisor_.StopAccepting();
  std::vector<std::string> proxies, configservers, servers;
  for (int i = 0; i < LocalLayout::kMaxProxies; ++i) proxies.push_back(LocalLayout::ProxyName(i));
  for (int i = 0; i < LocalLayout::kConfigServers; ++i) {
    configservers.push_back(LocalLayout::ConfigServerName(i));
  }
  int groups;
  {
    std::lock_guard lock(mu_);
    groups = group_count_;
  }
  for (int s = 0; s < groups; ++s) {
    for (int m = 0; m < LocalLayout::kMaxMembersPerShard; ++m) {
      servers.push_back(LocalLayout::ServerName(s, m));
    }
  }
  supervisor_.StopAll(proxies);
  supervisor_.StopAll(configservers);
  // Redis waits up to its shutdown-timeout (10 s) for lagging replicas
  // before its final AOF fsync; do not cut that short.
  supervisor_.StopAll(servers, std::chrono::seconds(30));
  supervisor_.Stop("etcd");
}

void LocalPlatform::WriteProcessesFile() {
  // Snapshot and write under one lock: two children changing at once must
  // not leave the older snapshot in the file.
  std::lock_guard lock(file_mu_);
  nlohmann::json processes = nlohmann::json::array();
  for (const auto& p : supervisor_.Snapshot()) {
    processes.push_back({{"name", p.name},
                         {"pid", p.pid},
                         {"start_time", ProcessStartTime(p.pid)},
                         {"running", p.running},
                         {"restarts", p.restarts},
                         {"last_exit", p.last_exit}});
  }
  Status s = WritePrivateFile(layout_.ProcessesFile(),
                              nlohmann::json{{"supervisor_pid", getpid()}, {"processes", processes}}.dump(2));
  if (!s.ok()) spdlog::warn("{}", s.message());
}

}  // namespace redkube::runtime
