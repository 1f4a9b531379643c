#include "runtime/local/cluster_directory.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/strings.h"

namespace redkube::runtime {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot read " + path + ": " + strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error("cannot write " + tmp + ": " + strerror(errno));
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error("cannot write " + path + ": " + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<LocalClusterSpec>> LoadClusterSpec(const std::string& base_dir,
                                                        const std::string& name) {
  std::string path = (base_dir.empty() ? "." : base_dir) + "/" + name + "/cluster.json";
  if (!fs::exists(path)) return std::optional<LocalClusterSpec>();
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto spec = LocalClusterSpec::FromJson(text.value());
  if (!spec.ok()) return Status::Error(path + ": " + spec.error());
  if (spec->name != name) {
    return Status::Error(path + " describes cluster \"" + spec->name + "\", not \"" + name +
                         "\"; was the directory copied or renamed?");
  }
  return std::optional<LocalClusterSpec>(spec.value());
}

bool PortTaken(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as the servers do
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool taken = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno == EADDRINUSE;
  close(fd);
  return taken;
}

Status SaveClusterSpec(const LocalLayout& layout) {
  return WriteFile(layout.SpecFile(), layout.spec().ToJson() + "\n", 0644);
}

Status MakeClusterDirs(const LocalLayout& layout) {
  for (const auto& dir : {layout.ClusterDir(), layout.LogDir(), layout.RunDir()}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Error("cannot create " + dir + ": " + ec.message());
  }
  chmod(layout.ClusterDir().c_str(), 0700);  // data and secrets: the user's only
  return Status::Ok();
}

Result<std::string> EnsureSecretFile(const std::string& path) {
  if (fs::exists(path)) {
    auto text = ReadFile(path);
    if (!text.ok()) return text;
    std::string secret = text.value();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) return Status::Error(path + " is empty");
    return secret;
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string secret;
  while (secret.size() < 24) {
    unsigned char byte = static_cast<unsigned char>(random.get());
    if (!random) return Status::Error("cannot read /dev/urandom");
    if (byte < 248) secret += kAlphabet[byte % 62];  // 248 = 4 * 62: no bias
  }
  if (Status s = WriteFile(path, secret + "\n", 0600); !s.ok()) return s;
  return secret;
}

std::optional<int> PortInUse(const LocalLayout& layout) {
  for (int port : layout.AllPorts()) {
    if (PortTaken(port)) return port;
  }
  return std::nullopt;
}

Result<SupervisorLock> SupervisorLock::Acquire(const LocalLayout& layout) {
  int fd = open(layout.LockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("cannot open " + layout.LockFile() + ": " + strerror(errno));
  // `status` and `down` probe the lock with a brief shared flock: retry a
  // little before concluding that a supervisor holds it.
  bool locked = false;
  for (int attempt = 0; attempt < 10 && !(locked = flock(fd, LOCK_EX | LOCK_NB) == 0); ++attempt) {
    usleep(20 * 1000);
  }
  if (!locked) {
    close(fd);
    auto pid = RunningSupervisor(layout);
    return Status::Error("cluster " + layout.spec().name + " is already running" +
                         (pid ? " (supervisor pid " + std::to_string(*pid) + ")" : std::string()));
  }
  return SupervisorLock(fd);
}

SupervisorLock::~SupervisorLock() {
  if (fd_ >= 0) close(fd_);
}

Status SupervisorLock::WritePid(const LocalLayout& layout) const {
  return WriteFile(layout.SupervisorPidFile(), std::to_string(getpid()) + "\n", 0644);
}

std::optional<pid_t> RunningSupervisor(const LocalLayout& layout) {
  int fd = open(layout.LockFile().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  bool held = flock(fd, LOCK_SH | LOCK_NB) != 0;
  close(fd);
  if (!held) return std::nullopt;
  auto text = ReadFile(layout.SupervisorPidFile());
  if (!text.ok()) return std::nullopt;
  // WritePid ends the number with a newline.
  std::string_view pid_text = text.value();
  if (!pid_text.empty() && pid_text.back() == '\n') pid_text.remove_suffix(1);
  auto pid = ParseInt64(pid_text);
  if (!pid || *pid <= 0 || *pid > INT32_MAX) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return 0;
  // "pid (comm) state ppid ..." - comm may hold spaces; fields resume after
  // the last ')'. starttime is field 22, the 20th after it.
  size_t close = stat.value().rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.value().substr(close + 1));
  std::string field;
  for (int i = 0; i < 20 && fields >> field; ++i) {
  }
  auto start_time = ParseInt64(field);
  return start_time && *start_time > 0 ? static_cast<uint64_t>(*start_time) : 0;
}

std::vector<pid_t> OrphanedProcesses(const LocalLayout& layout) {
  std::vector<pid_t> pids;
  auto text = ReadFile(layout.ProcessesFile());
  if (!text.ok()) return pids;
  auto doc = nlohmann::json::parse(text.value(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("processes") || !doc["processes"].is_array()) return pids;
  static const std::set<std::string> kPrograms = {"etcd", "redis-server", "redis-check-rdb", "redkube-proxy",
                                                  "redkube-configserver"};
  for (const auto& p : doc["processes"]) {
    if (!p.is_object() || !p.contains("pid") || !p["pid"].is_number_integer()) continue;
    pid_t pid = p["pid"].get<pid_t>();
    if (pid <= 0) continue;
    // Same pid and start time: the very process the supervisor started,
    // not a later one that reused the pid.
    uint64_t started = p.value("start_time", uint64_t{0});
    if (started == 0 || ProcessStartTime(pid) != started) continue;
    std::error_code ec;
    std::string exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
    const std::string deleted = " (deleted)";  // the binary was rebuilt meanwhile
    if (exe.size() > deleted.size() && exe.ends_with(deleted)) exe.resize(exe.size() - deleted.size());
    if (!ec && kPrograms.count(exe)) pids.push_back(pid);
  }
  return pids;
}

}  // namespace redkube::runtime
