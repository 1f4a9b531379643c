#include "operator/kube/kube_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace redkube::kube {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// YAML -> JSON with every scalar a string: kubeconfig fields are strings
// except insecure-skip-tls-verify, which the reader compares as text.
json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
    default:
      return nullptr;
  }
}

std::string StringField(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The `field` member of the entry of `list` named `name`.
const json* FindNamed(const json& root, const char* list, const char* field, const std::string& name) {
  auto it = root.find(list);
  if (it == root.end() || !it->is_array()) return nullptr;
  for (const auto& entry : *it) {
    if (StringField(entry, "name") == name) {
      auto f = entry.find(field);
      return f != entry.end() && f->is_object() ? &*f : nullptr;
    }
  }
  return nullptr;
}

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).string();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TrimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Decodes `object[key]` (base64) into *out, when present.
Status DecodeDataField(const json& object, const char* key, std::string* out) {
  std::string encoded = StringField(object, key);
  if (encoded.empty()) return Status::Ok();
  auto decoded = Base64Decode(encoded);
  if (!decoded.ok()) return Status::Error(fmt::format("{}: {}", key, decoded.error()));
  *out = std::move(decoded.value());
  return Status::Ok();
}

}  // namespace

Result<std::string> Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int nbits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding) return Status::Error("invalid base64");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xFF);
    }
  }
  // 6 leftover bits cannot come from whole bytes.
  if (nbits >= 6) return Status::Error("invalid base64 length");
  return out;
}

Result<KubeConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                   const std::string& context) {
  json root;
  try {
    // JSON is YAML (flow style), so one parser reads both forms kubectl accepts.
    root = ToJson(YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    return Status::Error(fmt::format("kubeconfig is neither YAML nor JSON: {}", e.what()));
  }
  if (!root.is_object()) return Status::Error("kubeconfig is not a mapping");

  std::string context_name = context.empty() ? StringField(root, "current-context") : context;
  if (context_name.empty()) return Status::Error("kubeconfig has no current-context and none was given");
  const json* ctx = FindNamed(root, "contexts", "context", context_name);
  if (ctx == nullptr) return Status::Error(fmt::format("kubeconfig has no context \"{}\"", context_name));
  std::string cluster_name = StringField(*ctx, "cluster");
  std::string user_name = StringField(*ctx, "user");
  const json* cluster = FindNamed(root, "clusters", "cluster", cluster_name);
  if (cluster == nullptr) {
    return Status::Error(fmt::format("kubeconfig context \"{}\" names cluster \"{}\", which is not in it",
                                     context_name, cluster_name));
  }

  KubeConfig config;
  config.server = StringField(*cluster, "server");
  if (config.server.empty())
    return Status::Error(fmt::format("kubeconfig cluster \"{}\" has no server", cluster_name));
  config.ca_file = Resolve(StringField(*cluster, "certificate-authority"), base_dir);
  if (Status s = DecodeDataField(*cluster, "certificate-authority-data", &config.ca_data); !s.ok()) return s;
  config.insecure_skip_tls_verify = StringField(*cluster, "insecure-skip-tls-verify") == "true";
  if (std::string ns = StringField(*ctx, "namespace"); !ns.empty()) config.ns = ns;

  if (!user_name.empty()) {
    const json* user = FindNamed(root, "users", "user", user_name);
    if (user == nullptr) {
      return Status::Error(fmt::format("kubeconfig context \"{}\" names user \"{}\", which is not in it",
                                       context_name, user_name));
    }
    if (user->contains("exec") || user->contains("auth-provider")) {
      return Status::Error(fmt::format(
          "kubeconfig user \"{}\" uses an exec or auth-provider plugin, which redkube does not support: "
          "use a client certificate or a token",
          user_name));
    }
    config.client_cert_file = Resolve(StringField(*user, "client-certificate"), base_dir);
    config.client_key_file = Resolve(StringField(*user, "client-key"), base_dir);
    if (Status s = DecodeDataField(*user, "client-certificate-data", &config.client_cert_data); !s.ok())
      return s;
    if (Status s = DecodeDataField(*user, "client-key-data", &config.client_key_data); !s.ok()) return s;
    config.token = StringField(*user, "token");
    config.token_file = Resolve(StringField(*user, "tokenFile"), base_dir);
    bool has_cert = !config.client_cert_file.empty() || !config.client_cert_data.empty();
    bool has_key = !config.client_key_file.empty() || !config.client_key_data.empty();
    if (has_cert != has_key) {
      return Status::Error(
          fmt::format("kubeconfig user \"{}\" has a client certificate or key without the other", user_name));
    }
  }
  return config;
}

Result<KubeConfig> FromKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status::Error(fmt::format("kubeconfig: {}", text.error()));
  auto config = ParseKubeconfig(text.value(), fs::path(path).parent_path().string(), context);
  if (!config.ok()) return Status::Error(fmt::format("{}: {}", path, config.error()));
  return config;
}

Result<KubeConfig> InCluster(const std::string& service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return Status::Error(
        "not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and no kubeconfig given (--kubeconfig or "
        "$KUBECONFIG)");
  }
  KubeConfig config;
  std::string h = host;
  // An IPv6 service address needs brackets in a URL.
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  config.server = fmt::format("https://{}:{}", h, port);
  config.token_file = (fs::path(service_account_dir) / "token").string();
  config.ca_file = (fs::path(service_account_dir) / "ca.crt").string();
  std::error_code ec;
  if (!fs::exists(config.token_file, ec))
    return Status::Error(fmt::format("in-cluster: no {}", config.token_file));
  if (!fs::exists(config.ca_file, ec)) return Status::Error(fmt::format("in-cluster: no {}", config.ca_file));
  if (auto ns = ReadFile((fs::path(service_account_dir) / "namespace").string()); ns.ok()) {
    std::string n = TrimNewlines(ns.value());
    if (!n.empty()) config.ns = n;
  }
  return config;
}

Result<KubeConfig> Load(const std::string& kubeconfig_flag, const std::string& service_account_dir) {
  if (!kubeconfig_flag.empty()) return FromKubeconfig(kubeconfig_flag);
  const char* env = std::getenv("KUBECONFIG");
  if (env != nullptr && *env != '\0') {
    std::string list = env;
    std::string first_named;
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      std::string entry = list.substr(start, end - start);
      std::error_code ec;
      if (!entry.empty()) {
        if (first_named.empty()) first_named = entry;
        if (fs::exists(entry, ec)) return FromKubeconfig(entry);
      }
      start = end + 1;
    }
    if (!first_named.empty()) return FromKubeconfig(first_named);  // reports the missing file
  }
  return InCluster(service_account_dir);
}

BearerToken::BearerToken(std::string token, std::string token_file)
    : fixed_(std::move(token)), file_(std::move(token_file)) {}

Result<std::string> BearerToken::Current() {
  if (file_.empty()) return fixed_;
  std::lock_guard<std::mutex> lock(mu_);
  std::error_code ec;
  auto mtime = fs::last_write_time(file_, ec);
  std::uintmax_t size = ec ? 0 : fs::file_size(file_, ec);
  if (ec) {
    if (!cached_.empty()) return cached_;
    return Status::Error(fmt::format("token file {}: {}", file_, ec.message()));
  }
  if (cached_.empty() || mtime != mtime_ || size != size_) {
    auto text = ReadFile(file_);
    if (!text.ok()) {
      if (!cached_.empty()) return cached_;
      return text.status();
    }
    std::string token = TrimNewlines(text.value());
    if (token.empty()) {
      if (!cached_.empty()) return cached_;
      return Status::Error(fmt::format("token file {} is empty", file_));
    }
    cached_ = std::move(token);
    mtime_ = mtime;
    size_ = size;
  }
  return cached_;
}

}  // namespace redkube::kube
