// A small, generic client for the Kubernetes API (JSON over HTTPS, on
// cpp-httplib + OpenSSL): the verbs the operator needs, on any Resource.
//
// Errors are Status values whose code() is the HTTP status of the API
// server's answer (404 not found, 409 conflict/already exists, 410 gone, 422
// invalid, 403 forbidden...) and whose message carries the server's own
// metav1.Status message; code() is 0 when no answer came (connection, TLS,
// timeout).
//
// Thread-safety: every method may be called from any thread at once. Calls
// take a connection from a small pool (kept alive between calls) or open one;
// a Watch holds its own connection for as long as it runs and never blocks
// other calls.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "operator/kube/kube_config.h"
#include "operator/kube/resource_path.h"
#include "operator/kube/watch_stream.h"

namespace httplib {
class ClientImpl;
}

namespace redkube::kube {

// The field manager of every server-side apply the operator makes.
inline constexpr char kFieldManager[] = "redkube-operator";

struct ListResult {
  std::vector<nlohmann::json> items;  // as the server lists them (no kind/apiVersion per item)
  std::string resource_version;       // the list's: where a Watch continues from
};

class KubeClient {
 public:
  // TLS material that cannot be loaded (a bad key, an unwritable temp dir for
  // CA data) makes every call fail with that reason.
  explicit KubeClient(KubeConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeConfig& config() const { return config_; }
  // Why the client cannot work (ok when it can).
  const Status& init_status() const { return init_status_; }

  Result<nlohmann::json> Get(const Resource& resource, std::string_view ns, std::string_view name);
  // One request, no paging: the operator lists its own objects by label.
  Result<ListResult> List(const Resource& resource, std::string_view ns, std::string_view label_selector = "",
                          std::string_view field_selector = "");

  // Streams changes after `resource_version` (pass the List's; "" makes the
  // server start with a synthetic ADDED per existing object), with
  // allowWatchBookmarks=true and timeoutSeconds=timeout_s. Calls on_event
  // for each event in order, ERROR events excepted. Returns
  //   ok: on_event returned false, the server ended the watch (timeout), or
  //       StopWatches() was called;
  //   an error with code 410: the resource version is too old (compacted):
  //       the caller lists again and watches from the new list's version;
  //   another error: the HTTP status or ERROR event's code, or 0 for transport.
  Status Watch(const Resource& resource, std::string_view ns, std::string_view resource_version,
               std::string_view label_selector, const std::function<bool(const WatchEvent&)>& on_event,
               int timeout_s = 300);
  // Ends every running Watch (their connections are shut down) and makes
  // later ones return at once: for shutdown. Other calls are unaffected.
  void StopWatches();

  // Server-side apply: PATCH ?fieldManager=redkube-operator&force=true with
  // Content-Type application/apply-patch+yaml and the object as JSON (JSON is
  // YAML). apiVersion, kind and metadata.name are filled in from `resource`
  // and `name` when the object lacks them. Applying the same object twice
  // changes nothing the second time (same resourceVersion). Returns the
  // object as stored.
  Result<nlohmann::json> Apply(const Resource& resource, std::string_view ns, std::string_view name,
                               nlohmann::json object);
  // The same on the /status subresource (only status fields are taken).
  Result<nlohmann::json> ApplyStatus(const Resource& resource, std::string_view ns, std::string_view name,
                                     nlohmann::json object);
  // RFC 7386 JSON merge patch (application/merge-patch+json), on the object or
  // a subresource ("status"). A metadata.resourceVersion in the patch is a
  // precondition (409 when the object has moved on).
  Result<nlohmann::json> MergePatch(const Resource& resource, std::string_view ns, std::string_view name,
                                    const nlohmann::json& patch, std::string_view subresource = "");
  // POST; 409 when the name exists. apiVersion/kind filled in when absent.
  Result<nlohmann::json> Create(const Resource& resource, std::string_view ns, nlohmann::json object);
  // PUT of the whole object; its metadata.resourceVersion is a precondition
  // (409 when another writer got there first): compare-and-swap.
  Result<nlohmann::json> Replace(const Resource& resource, std::string_view ns, std::string_view name,
                                 nlohmann::json object);
  // DELETE with propagationPolicy (Background, Foreground, Orphan). An object
  // that is already gone (404) is success.
  Status Delete(const Resource& resource, std::string_view ns, std::string_view name,
                std::string_view propagation = "Background");
  // A core/v1 Event about `involved_object` (a full object as read: its
  // apiVersion, kind, metadata name/namespace/uid are used), in its
  // namespace. type: "Normal" or "Warning"; reason: UpperCamelCase.
  Status CreateEvent(const nlohmann::json& involved_object, std::string_view type, std::string_view reason,
                     std::string_view message, std::string_view component = kFieldManager);

 private:
  struct Tls;
  struct Answer {
    int status = 0;
    std::string body;
  };

  std::unique_ptr<httplib::ClientImpl> NewConnection(std::chrono::seconds read_timeout);
  std::unique_ptr<httplib::ClientImpl> TakeConnection();
  void ReturnConnection(std::unique_ptr<httplib::ClientImpl> connection);
  Result<std::string> AuthorizationHeader();
  // One request; retried once on a fresh connection when a pooled one turns
  // out dead and the method is idempotent.
  Result<Answer> Send(const std::string& method, const std::string& path, const std::string& body,
                      const std::string& content_type);
  // Send, then the JSON of a 2xx answer or the server's error as a Status.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const std::string& body = "", const std::string& content_type = "");
  Result<nlohmann::json> ApplyTo(const Resource& resource, std::string_view ns, std::string_view name,
                                 nlohmann::json object, std::string_view subresource);

  const KubeConfig config_;
  Status init_status_ = Status::Ok();
  bool https_ = true;
  std::string host_;
  int port_ = 443;
  std::string path_prefix_;
  std::unique_ptr<Tls> tls_;
  BearerToken token_;

  std::mutex pool_mu_;
  struct Pooled {
    std::unique_ptr<httplib::ClientImpl> connection;
    std::chrono::steady_clock::time_point idle_since;
  };
  std::vector<Pooled> pool_;

  std::mutex watch_mu_;
  bool watches_stopped_ = false;
  std::set<httplib::ClientImpl*> watches_;
};

// The message of an API server error body (a metav1.Status), or the body's
// start when it is not one. Exposed for tests.
std::string ApiErrorMessage(int http_status, std::string_view body);

}  // namespace redkube::kube
