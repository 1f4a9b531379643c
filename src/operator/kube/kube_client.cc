#include "operator/kube/kube_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace redkube::kube {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kCallTimeout = std::chrono::seconds(30);
// A pooled connection idle longer than this is dropped rather than reused:
// the server may have closed it, and a request on a dead keep-alive
// connection fails after it was (maybe) sent.
constexpr auto kMaxIdle = std::chrono::seconds(20);
constexpr size_t kMaxPooled = 4;
constexpr size_t kMaxErrorBody = 64 << 10;

std::string Rfc3339Now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Writes `data` to a new 0600 file in the temp directory and returns its path:
// httplib loads CA certificates only from a file (an in-memory store would be
// topped up with the system's CAs, which a private cluster CA must not be).
Result<std::string> WritePrivateTempFile(const std::string& data) {
  std::string pattern = (fs::temp_directory_path() / "redkube-kube-XXXXXX").string();
  int fd = mkstemp(pattern.data());  // creates the file 0600
  if (fd < 0)
    return Status::Error(fmt::format("cannot create a temp file for TLS material: {}", strerror(errno)));
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(pattern.c_str());
      return Status::Error(fmt::format("cannot write {}: {}", pattern, strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return pattern;
}

bool IsIdempotent(const std::string& method) { return method != "POST"; }

// Fills in the identifying fields an object sent to the server must carry.
void FillIdentity(const Resource& resource, std::string_view ns, std::string_view name, json& object) {
  if (!object.is_object()) object = json::object();
  if (!object.contains("apiVersion")) object["apiVersion"] = resource.ApiVersion();
  if (!object.contains("kind") && !resource.kind.empty()) object["kind"] = std::string(resource.kind);
  json& meta = object["metadata"];
  if (!meta.is_object()) meta = json::object();
  if (!name.empty() && !meta.contains("name")) meta["name"] = std::string(name);
  if (resource.namespaced && !ns.empty() && !meta.contains("namespace")) meta["namespace"] = std::string(ns);
}

}  // namespace

std::string ApiErrorMessage(int http_status, std::string_view body) {
  json status = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    std::string message = status.value("message", "");
    std::string reason = status.value("reason", "");
    if (!reason.empty() && !message.empty()) return fmt::format("{} ({})", message, reason);
    if (!message.empty()) return message;
    if (!reason.empty()) return reason;
  }
  std::string_view start = body.substr(0, 300);
  if (start.empty()) return fmt::format("HTTP {}", http_status);
  return fmt::format("HTTP {}: {}", http_status, start);
}

// The client certificate and key in memory (from PEM text), and the CA as a
// file (written when given as data; removed with the client).
struct KubeClient::Tls {
  X509* client_cert = nullptr;
  EVP_PKEY* client_key = nullptr;
  std::string client_cert_file;
  std::string client_key_file;
  std::string ca_file;
  bool ca_file_is_temp = false;

  ~Tls() {
    if (client_cert != nullptr) X509_free(client_cert);
    if (client_key != nullptr) EVP_PKEY_free(client_key);
    if (ca_file_is_temp) ::unlink(ca_file.c_str());
  }
};

KubeClient::KubeClient(KubeConfig config)
    : config_(std::move(config)), tls_(std::make_unique<Tls>()), token_(config_.token, config_.token_file) {
  std::string_view url = config_.server;
  if (url.starts_with("https://")) {
    https_ = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    https_ = false;
    url.remove_prefix(7);
  } else {
    init_status_ = Status::Error(fmt::format("server \"{}\" is not an http(s) URL", config_.server));
    return;
  }
  size_t slash = url.find('/');
  if (slash != std::string_view::npos) {
    path_prefix_ = std::string(url.substr(slash));
    while (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
    url = url.substr(0, slash);
  }
  port_ = https_ ? 443 : 80;
  std::string_view host = url;
  if (url.starts_with("[")) {  // [IPv6]:port
    size_t close = url.find(']');
    if (close == std::string_view::npos) {
      init_status_ = Status::Error(fmt::format("server \"{}\": bad IPv6 address", config_.server));
      return;
    }
    host = url.substr(1, close - 1);
    url.remove_prefix(close + 1);
    if (url.starts_with(":"))
      url.remove_prefix(1);
    else
      url = "";
  } else if (size_t colon = url.rfind(':'); colon != std::string_view::npos) {
    host = url.substr(0, colon);
    url.remove_prefix(colon + 1);
  } else {
    url = "";
  }
  if (!url.empty()) {
    port_ = std::atoi(std::string(url).c_str());
    if (port_ <= 0 || port_ > 65535) {
      init_status_ = Status::Error(fmt::format("server \"{}\": bad port", config_.server));
      return;
    }
  }
  host_ = std::string(host);
  if (host_.empty()) {
    init_status_ = Status::Error(fmt::format("server \"{}\" has no host", config_.server));
    return;
  }
  if (!https_) return;

  if (!config_.ca_data.empty()) {
    auto path = WritePrivateTempFile(config_.ca_data);
    if (!path.ok()) {
      init_status_ = path.status();
      return;
    }
    tls_->ca_file = path.value();
    tls_->ca_file_is_temp = true;
  } else {
    tls_->ca_file = config_.ca_file;
  }
  if (!config_.client_cert_data.empty() || !config_.client_key_data.empty()) {
    // Either may be data while the other is a file: read the file then.
    auto load = [](const std::string& data, const std::string& file) -> std::string {
      if (!data.empty()) return data;
      std::string text;
      if (FILE* f = std::fopen(file.c_str(), "rb")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
        std::fclose(f);
      }
      return text;
    };
    std::string cert_pem = load(config_.client_cert_data, config_.client_cert_file);
    std::string key_pem = load(config_.client_key_data, config_.client_key_file);
    BIO* cert_bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
    tls_->client_cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    BIO_free(cert_bio);
    BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
    tls_->client_key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    if (tls_->client_cert == nullptr || tls_->client_key == nullptr) {
      init_status_ = Status::Error("the client certificate or key is not valid PEM");
      return;
    }
  } else {
    tls_->client_cert_file = config_.client_cert_file;
    tls_->client_key_file = config_.client_key_file;
  }
  // Load once now, so a bad certificate is reported at start rather than on
  // the first call.
  if (auto probe = NewConnection(kCallTimeout); probe == nullptr) {
    init_status_ = Status::Error("the client certificate or key cannot be loaded (or they do not match)");
  }
}

KubeClient::~KubeClient() = default;

std::unique_ptr<httplib::ClientImpl> KubeClient::NewConnection(std::chrono::seconds read_timeout) {
  std::unique_ptr<httplib::ClientImpl> connection;
  if (https_) {
    std::unique_ptr<httplib::SSLClient> ssl;
    if (tls_->client_cert != nullptr) {
      ssl = std::make_unique<httplib::SSLClient>(host_, port_, tls_->client_cert, tls_->client_key);
    } else if (!tls_->client_cert_file.empty()) {
      ssl = std::make_unique<httplib::SSLClient>(host_, port_, tls_->client_cert_file, tls_->client_key_file);
    } else {
      ssl = std::make_unique<httplib::SSLClient>(host_, port_);
    }
    if (!ssl->is_valid()) return nullptr;
    if (!tls_->ca_file.empty()) ssl->set_ca_cert_path(tls_->ca_file);
    ssl->enable_server_certificate_verification(!config_.insecure_skip_tls_verify);
    connection = std::move(ssl);
  } else {
    connection = std::make_unique<httplib::ClientImpl>(host_, port_);
  }
  connection->set_connection_timeout(kConnectTimeout);
  connection->set_read_timeout(read_timeout);
  connection->set_write_timeout(kCallTimeout);
  connection->set_keep_alive(true);
  return connection;
}

std::unique_ptr<httplib::ClientImpl> KubeClient::TakeConnection() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  auto now = std::chrono::steady_clock::now();
  while (!pool_.empty()) {
    Pooled pooled = std::move(pool_.back());
    pool_.pop_back();
    if (now - pooled.idle_since < kMaxIdle) return std::move(pooled.connection);
  }
  return nullptr;
}

void KubeClient::ReturnConnection(std::unique_ptr<httplib::ClientImpl> connection) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < kMaxPooled) pool_.push_back({std::move(connection), std::chrono::steady_clock::now()});
}

Result<std::string> KubeClient::AuthorizationHeader() {
  auto token = token_.Current();
  if (!token.ok()) return token.status();
  return token->empty() ? std::string() : "Bearer " + token.value();
}

Result<KubeClient::Answer> KubeClient::Send(const std::string& method, const std::string& path,
                                            const std::string& body, const std::string& content_type) {
  if (!init_status_.ok()) return init_status_;
  auto auth = AuthorizationHeader();
  if (!auth.ok()) return auth.status();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto connection = TakeConnection();
    bool reused = connection != nullptr;
    if (!reused) connection = NewConnection(kCallTimeout);
    if (connection == nullptr) return Status::Error("cannot set up a TLS client");
    httplib::Request req;
    req.method = method;
    req.path = path_prefix_ + path;
    req.headers = {{"Accept", "application/json"}, {"User-Agent", "redkube-operator"}};
    if (!auth->empty()) req.headers.emplace("Authorization", auth.value());
    if (!content_type.empty()) req.headers.emplace("Content-Type", content_type);
    req.body = body;
    httplib::Result res = connection->send(req);
    if (res) {
      Answer answer{res->status, std::move(res->body)};
      ReturnConnection(std::move(connection));
      return answer;
    }
    httplib::Error error = res.error();
    // A reused connection the server had closed: try once more on a new one,
    // when doing the request twice cannot do harm.
    if (reused && IsIdempotent(method) && error != httplib::Error::SSLServerVerification) continue;
    return Status::Error(fmt::format("{} {}: {}", method, path, httplib::to_string(error)));
  }
  return Status::Error(fmt::format("{} {}: connection failed twice", method, path));
}

Result<json> KubeClient::Call(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& content_type) {
  auto answer = Send(method, path, body, content_type);
  if (!answer.ok()) return answer.status();
  if (answer->status < 200 || answer->status >= 300) {
    return Status::Error(
        fmt::format("{} {}: {}", method, path, ApiErrorMessage(answer->status, answer->body)),
        answer->status);
  }
  if (answer->body.empty()) return json::object();
  json doc = json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Error(fmt::format("{} {}: the answer is not JSON", method, path));
  return doc;
}

Result<json> KubeClient::Get(const Resource& resource, std::string_view ns, std::string_view name) {
  return Call("GET", Path(resource, ns, name));
}

Result<ListResult> KubeClient::List(const Resource& resource, std::string_view ns,
                                    std::string_view label_selector, std::string_view field_selector) {
  auto doc = Call("GET", Path(resource, ns) + QueryString({{"labelSelector", std::string(label_selector)},
                                                           {"fieldSelector", std::string(field_selector)}}));
  if (!doc.ok()) return doc.status();
  ListResult list;
  if (auto it = doc->find("items"); it != doc->end() && it->is_array()) {
    list.items.reserve(it->size());
    for (auto& item : *it) list.items.push_back(std::move(item));
  }
  if (auto meta = doc->find("metadata"); meta != doc->end() && meta->is_object()) {
    list.resource_version = meta->value("resourceVersion", "");
  }
  return list;
}

Status KubeClient::Watch(const Resource& resource, std::string_view ns, std::string_view resource_version,
                         std::string_view label_selector,
                         const std::function<bool(const WatchEvent&)>& on_event, int timeout_s) {
  if (!init_status_.ok()) return init_status_;
  auto auth = AuthorizationHeader();
  if (!auth.ok()) return auth.status();
  if (timeout_s < 1) timeout_s = 1;
  std::string path = Path(resource, ns) + QueryString({{"watch", "true"},
                                                       {"allowWatchBookmarks", "true"},
                                                       {"resourceVersion", std::string(resource_version)},
                                                       {"labelSelector", std::string(label_selector)},
                                                       {"timeoutSeconds", std::to_string(timeout_s)}});
  // The server ends the stream at timeoutSeconds; the read timeout is only a
  // backstop for a server that went silent.
  auto connection = NewConnection(std::chrono::seconds(timeout_s + 30));
  if (connection == nullptr) return Status::Error("cannot set up a TLS client");
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    if (watches_stopped_) return Status::Ok();
    watches_.insert(connection.get());
  }
  struct Unregister {
    KubeClient* self;
    httplib::ClientImpl* connection;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(self->watch_mu_);
      self->watches_.erase(connection);
    }
  } unregister{this, connection.get()};
  auto stopped = [this] {
    std::lock_guard<std::mutex> lock(watch_mu_);
    return watches_stopped_;
  };

  int http_status = 0;
  std::string error_body;
  WatchLineSplitter splitter;
  Status outcome = Status::Ok();
  bool consumer_done = false;  // on_event said stop, or an ERROR event / bad line ended it
  httplib::Request req;
  req.method = "GET";
  req.path = path_prefix_ + path;
  req.headers = {{"Accept", "application/json"}, {"User-Agent", "redkube-operator"}};
  if (!auth->empty()) req.headers.emplace("Authorization", auth.value());
  req.response_handler = [&](const httplib::Response& response) {
    http_status = response.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    if (http_status != 200) {
      if (error_body.size() < kMaxErrorBody) error_body.append(data, std::min(length, kMaxErrorBody));
      return true;
    }
    if (stopped()) return false;
    auto fed = splitter.Feed(std::string_view(data, length), [&](std::string_view line) {
      auto event = ParseWatchEvent(line);
      if (!event.ok()) {
        outcome = event.status();
        return false;
      }
      if (event->type == WatchEventType::kError) {
        const json& status = event->object;
        int code =
            status.contains("code") && status["code"].is_number_integer() ? status["code"].get<int>() : 0;
        outcome = Status::Error(
            fmt::format("watch {}: {}", Path(resource, ns), ApiErrorMessage(code, status.dump())), code);
        return false;
      }
      return on_event(event.value());
    });
    if (!fed.ok()) {
      outcome = fed.status();
      consumer_done = true;
      return false;
    }
    if (!fed.value()) consumer_done = true;
    return fed.value();
  };
  httplib::Result res = connection->send(req);
  if (consumer_done || stopped()) return outcome;  // ok when on_event stopped it
  if (!res) {
    // The server closing the stream at timeoutSeconds is a clean end, and
    // that is what httplib reports when the chunked body ends normally; a
    // failure here is a transport error.
    return Status::Error(fmt::format("watch {}: {}", Path(resource, ns), httplib::to_string(res.error())));
  }
  if (http_status != 200) {
    return Status::Error(
        fmt::format("watch {}: {}", Path(resource, ns), ApiErrorMessage(http_status, error_body)),
        http_status);
  }
  return outcome;
}

void KubeClient::StopWatches() {
  std::lock_guard<std::mutex> lock(watch_mu_);
  watches_stopped_ = true;
  for (httplib::ClientImpl* connection : watches_) connection->stop();
}

Result<json> KubeClient::ApplyTo(const Resource& resource, std::string_view ns, std::string_view name,
                                 json object, std::string_view subresource) {
  FillIdentity(resource, ns, name, object);
  std::string path = Path(resource, ns, name, subresource) +
                     QueryString({{"fieldManager", kFieldManager}, {"force", "true"}});
  return Call("PATCH", path, object.dump(), "application/apply-patch+yaml");
}

Result<json> KubeClient::Apply(const Resource& resource, std::string_view ns, std::string_view name,
                               json object) {
  return ApplyTo(resource, ns, name, std::move(object), "");
}

Result<json> KubeClient::ApplyStatus(const Resource& resource, std::string_view ns, std::string_view name,
                                     json object) {
  return ApplyTo(resource, ns, name, std::move(object), "status");
}

Result<json> KubeClient::MergePatch(const Resource& resource, std::string_view ns, std::string_view name,
                                    const json& patch, std::string_view subresource) {
  return Call("PATCH", Path(resource, ns, name, subresource), patch.dump(), "application/merge-patch+json");
}

Result<json> KubeClient::Create(const Resource& resource, std::string_view ns, json object) {
  FillIdentity(resource, ns, "", object);
  return Call("POST", Path(resource, ns), object.dump(), "application/json");
}

Result<json> KubeClient::Replace(const Resource& resource, std::string_view ns, std::string_view name,
                                 json object) {
  FillIdentity(resource, ns, name, object);
  return Call("PUT", Path(resource, ns, name), object.dump(), "application/json");
}

Status KubeClient::Delete(const Resource& resource, std::string_view ns, std::string_view name,
                          std::string_view propagation) {
  auto done = Call("DELETE",
                   Path(resource, ns, name) + QueryString({{"propagationPolicy", std::string(propagation)}}));
  if (done.ok() || done.status().code() == 404) return Status::Ok();
  return done.status();
}

Status KubeClient::CreateEvent(const json& involved_object, std::string_view type, std::string_view reason,
                               std::string_view message, std::string_view component) {
  if (!involved_object.is_object() || !involved_object.contains("metadata") ||
      !involved_object["metadata"].is_object()) {
    return Status::Error("CreateEvent: the involved object has no metadata");
  }
  const json empty = json::object();
  const json& meta = involved_object.contains("metadata") ? involved_object["metadata"] : empty;
  std::string name = meta.value("name", "");
  std::string ns = meta.value("namespace", "");
  if (name.empty()) return Status::Error("CreateEvent: the involved object has no metadata.name");
  if (ns.empty()) ns = "default";  // a cluster-scoped object's events
  json involved = {{"apiVersion", involved_object.value("apiVersion", "")},
                   {"kind", involved_object.value("kind", "")},
                   {"name", name},
                   {"namespace", ns}};
  if (meta.contains("uid")) involved["uid"] = meta["uid"];
  if (meta.contains("resourceVersion")) involved["resourceVersion"] = meta["resourceVersion"];
  std::string now = Rfc3339Now();
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      // generateName: many events about one object, none colliding.
      {"metadata", {{"generateName", name + "."}, {"namespace", ns}}},
      {"involvedObject", involved},
      {"type", std::string(type)},
      {"reason", std::string(reason)},
      // Kept short, as client-go's recorder does (events.k8s.io caps a note at 1 KiB).
      {"message", std::string(message.substr(0, 1024))},
      {"source", {{"component", std::string(component)}}},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  auto created = Call("POST", Path(resources::kEvents, ns), event.dump(), "application/json");
  return created.ok() ? Status::Ok() : created.status();
}

}  // namespace redkube::kube
