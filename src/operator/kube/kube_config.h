// How to reach and authenticate to a Kubernetes API server: from a kubeconfig
// file (what `kubectl` uses; YAML or JSON) or from inside a pod (the service
// account's token and CA). Plain data: KubeClient turns it into connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

namespace redkube::kube {

inline constexpr char kDefaultServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  // "https://HOST:PORT[/PREFIX]"; "http://" is accepted too (tests, proxies).
  std::string server;
  // The CA that signed the server's certificate, as a file or as PEM text
  // (the data wins when both are set). Neither: the system's CAs.
  std::string ca_file;
  std::string ca_data;
  // A client certificate and its key (files or PEM text), for kubeconfigs
  // that authenticate by certificate (the test bed's admin user does).
  std::string client_cert_file;
  std::string client_cert_data;
  std::string client_key_file;
  std::string client_key_data;
  // A bearer token, fixed, or read from a file and re-read when the file
  // changes: in-cluster tokens are projected and rotated by the kubelet.
  std::string token;
  std::string token_file;
  bool insecure_skip_tls_verify = false;
  // The namespace of the kubeconfig context, or the pod's own namespace.
  std::string ns = "default";
};

// Reads a kubeconfig file and resolves `context` (empty: current-context) to
// its cluster and user. YAML (what `kubectl config` writes) and JSON both
// parse. Relative file paths in it are taken from the file's directory, as
// kubectl does. *-data fields are base64 (decoded here into the *_data
// members). Exec and auth-provider users are not supported (an error says so).
Result<KubeConfig> FromKubeconfig(const std::string& path, const std::string& context = "");
// The same, from the file's text; `base_dir` resolves relative paths.
Result<KubeConfig> ParseKubeconfig(std::string_view text, const std::string& base_dir,
                                   const std::string& context = "");

// Inside a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, and
// DIR/token (re-read when it changes), DIR/ca.crt, DIR/namespace.
Result<KubeConfig> InCluster(const std::string& service_account_dir = kDefaultServiceAccountDir);

// The operator's rule: the --kubeconfig flag if given, else $KUBECONFIG (its
// first existing entry when it is a ':'-separated list; kubectl would merge
// them, we do not), else in-cluster.
Result<KubeConfig> Load(const std::string& kubeconfig_flag,
                        const std::string& service_account_dir = kDefaultServiceAccountDir);

// Standard base64 (RFC 4648, padding optional, whitespace ignored).
Result<std::string> Base64Decode(std::string_view text);

// A bearer token: fixed, or a file's content re-read whenever its
// modification time or size changes (a rotated projected token is picked up
// on the next request). Thread-safe.
class BearerToken {
 public:
  BearerToken(std::string token, std::string token_file);
  // The token to send; "" when there is none. An unreadable file keeps the
  // last token it had (the kubelet replaces the file atomically, but a
  // transient error must not log us out).
  Result<std::string> Current();

 private:
  const std::string fixed_;
  const std::string file_;
  std::mutex mu_;
  std::string cached_;
  std::chrono::file_clock::time_point mtime_{};
  std::uintmax_t size_ = 0;
};

}  // namespace redkube::kube
