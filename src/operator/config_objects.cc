// The builders of object_builders.h that are not workloads: the owner
// reference, the addresses handed to pods, the auth Secret and the ConfigMap.
#include "operator/object_builders.h"
#include "operator/object_parts.h"

namespace redkube::op {

using nlohmann::json;

json OwnerReference(const ClusterIdentity& id) {
  return {{"apiVersion", kApiVersion}, {"kind", kKind},
          {"name", id.name},           {"uid", id.uid},
          {"controller", true},        {"blockOwnerDeletion", true}};
}

Result<std::string> ConfigServerUrl(const ObservedAddresses& addresses) {
  if (addresses.configserver_cluster_ip.empty() || addresses.configserver_cluster_ip == "None") {
    return Status::Error("the ConfigServer Service has no ClusterIP yet");
  }
  return "http://" + addresses.configserver_cluster_ip + ":" + std::to_string(kConfigServerPort);
}

Result<std::string> EtcdUrl(const RedisClusterSpec& spec, const ObservedAddresses& addresses) {
  if (spec.etcd.external()) return spec.etcd.endpoints.front();
  if (addresses.etcd_client_cluster_ip.empty() || addresses.etcd_client_cluster_ip == "None") {
    return Status::Error("the etcd client Service has no ClusterIP yet");
  }
  return "http://" + addresses.etcd_client_cluster_ip + ":" + std::to_string(kEtcdClientPort);
}

json AuthSecret(const RedisClusterSpec& spec, const ClusterIdentity& id, const AuthValues& values) {
  json secret = parts::Object(
      "v1", "Secret", parts::Metadata(id, AuthSecretName(id.name), ObjectLabels(id.name, kComponentAuth)));
  secret["type"] = "Opaque";
  // data (base64), not stringData: stringData is write-only, so an apply of
  // it would never compare equal to what the server holds.
  secret["data"] = {{kApiTokenKey, parts::Base64(values.api_token)}};
  if (spec.password_secret.name.empty())
    secret["data"][std::string(kPasswordKey)] = parts::Base64(values.password);
  return secret;
}

Result<std::string> RedisConfText(const std::map<std::string, std::string>& config) {
  Status valid = ValidateRedisConfig(config);
  if (!valid.ok()) return valid;
  std::string text =
      "# spec.redisConfig of the RedisCluster (the operator writes this file; the platform sets\n"
      "# bind, port, dir, authentication and replication in the file that includes it).\n";
  for (const auto& [key, value] : config) {
    // An empty value must still be an argument (`save ""` turns snapshots off).
    text += key + " " + (value.empty() ? std::string("\"\"") : value) + "\n";
  }
  return text;
}

Result<json> ServerConfigMap(const RedisClusterSpec& spec, const ClusterIdentity& id) {
  auto text = RedisConfText(spec.redis_config);
  if (!text.ok()) return Status::Error("spec.redisConfig: " + text.error());
  json cm = parts::Object(
      "v1", "ConfigMap",
      parts::Metadata(id, ServerConfigMapName(id.name), ObjectLabels(id.name, kComponentServer)));
  cm["data"] = {{kRedisConfKey, text.value()}};
  return cm;
}

}  // namespace redkube::op
