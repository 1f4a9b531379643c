#include "operator/object_parts.h"

#include <openssl/evp.h>

#include <vector>

#include "operator/object_builders.h"

namespace redkube::op::parts {

namespace {
// The uid and gid of deploy/docker's images (user "redkube").
constexpr int kRunAsUser = 10001;
}  // namespace

json Metadata(const ClusterIdentity& id, const std::string& name, json labels) {
  return {{"name", name},
          {"namespace", id.namespace_name},
          {"labels", std::move(labels)},
          {"ownerReferences", json::array({OwnerReference(id)})}};
}

json Object(std::string_view api_version, std::string_view kind, json metadata) {
  return {{"apiVersion", api_version}, {"kind", kind}, {"metadata", std::move(metadata)}};
}

json PodIdentityEnv() {
  auto field = [](const char* name, const char* path) {
    return json{{"name", name}, {"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", path}}}}}};
  };
  return json::array({field("POD_IP", "status.podIP"), field("POD_NAME", "metadata.name"),
                      field("POD_NAMESPACE", "metadata.namespace")});
}

json AuthVolume(const RedisClusterSpec& spec, const ClusterIdentity& id) {
  json own_items = json::array({{{"key", kApiTokenKey}, {"path", kApiTokenKey}}});
  json sources = json::array();
  if (spec.password_secret.name.empty()) {
    own_items.push_back({{"key", kPasswordKey}, {"path", kPasswordKey}});
    sources.push_back({{"secret", {{"name", AuthSecretName(id.name)}, {"items", own_items}}}});
  } else {
    sources.push_back({{"secret", {{"name", AuthSecretName(id.name)}, {"items", own_items}}}});
    sources.push_back(
        {{"secret",
          {{"name", spec.password_secret.name},
           {"items", json::array({{{"key", spec.password_secret.key}, {"path", kPasswordKey}}})}}}});
  }
  // 0440: readable by the pod's user and its fsGroup, no one else.
  return {{"name", "auth"}, {"projected", {{"defaultMode", 0440}, {"sources", std::move(sources)}}}};
}

json AuthMount() { return {{"name", "auth"}, {"mountPath", kAuthDir}, {"readOnly", true}}; }

std::string AuthFile(std::string_view key) { return std::string(kAuthDir) + "/" + std::string(key); }

json PodSecurityContext() {
  return {{"runAsNonRoot", true},
          {"runAsUser", kRunAsUser},
          {"runAsGroup", kRunAsUser},
          {"fsGroup", kRunAsUser},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

json ContainerSecurityContext() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", json::array({"ALL"})}}}};
}

json TcpProbe(int port, int period_seconds, int failure_threshold) {
  return {{"tcpSocket", {{"port", port}}},
          {"periodSeconds", period_seconds},
          {"timeoutSeconds", 2},
          {"failureThreshold", failure_threshold}};
}

json HttpProbe(std::string_view path, int port, int period_seconds, int failure_threshold) {
  return {{"httpGet", {{"path", path}, {"port", port}, {"scheme", "HTTP"}}},
          {"periodSeconds", period_seconds},
          {"timeoutSeconds", 2},
          {"failureThreshold", failure_threshold}};
}

json RequiredHostAntiAffinity(const json& selector) {
  return {{"podAntiAffinity",
           {{"requiredDuringSchedulingIgnoredDuringExecution",
             json::array({{{"labelSelector", {{"matchLabels", selector}}},
                           {"topologyKey", "kubernetes.io/hostname"}}})}}}};
}

json PreferredHostAntiAffinity(const json& selector) {
  return {{"podAntiAffinity",
           {{"preferredDuringSchedulingIgnoredDuringExecution",
             json::array({{{"weight", 100},
                           {"podAffinityTerm",
                            {{"labelSelector", {{"matchLabels", selector}}},
                             {"topologyKey", "kubernetes.io/hostname"}}}}})}}}};
}

json ClaimTemplate(const std::string& name, const std::string& storage_class, const std::string& size) {
  json spec = {{"accessModes", json::array({"ReadWriteOnce"})},
               {"resources", {{"requests", {{"storage", size}}}}}};
  // Absent (not ""): "" would ask for no class at all, absent for the default one.
  if (!storage_class.empty()) spec["storageClassName"] = storage_class;
  return {{"metadata", {{"name", name}}}, {"spec", std::move(spec)}};
}

json PodDisruptionBudget(const ClusterIdentity& id, const std::string& name, json labels, json selector) {
  json pdb = Object("policy/v1", "PodDisruptionBudget", Metadata(id, name, std::move(labels)));
  pdb["spec"] = {{"maxUnavailable", 1}, {"selector", {{"matchLabels", std::move(selector)}}}};
  return pdb;
}

json ServicePort(std::string_view name, int port) {
  return {{"name", name}, {"port", port}, {"targetPort", port}, {"protocol", "TCP"}};
}

json Service(const ClusterIdentity& id, const std::string& name, json labels, json selector, json ports,
             bool headless) {
  json svc = Object("v1", "Service", Metadata(id, name, std::move(labels)));
  svc["spec"] = {{"type", "ClusterIP"}, {"selector", std::move(selector)}, {"ports", std::move(ports)}};
  if (headless) {
    svc["spec"]["clusterIP"] = "None";
    // Members find each other (and the start step runs) before they are ready.
    svc["spec"]["publishNotReadyAddresses"] = true;
  }
  return svc;
}

std::string Base64(std::string_view bytes) {
  std::vector<unsigned char> out(4 * ((bytes.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(n));
}

}  // namespace redkube::op::parts
