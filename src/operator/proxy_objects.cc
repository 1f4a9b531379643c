// The proxy fleet's objects: Deployment, Service, HPA and PDB.
#include <string>

#include "operator/object_builders.h"
#include "operator/object_parts.h"

namespace redkube::op {

using nlohmann::json;

namespace {
// How long in-flight requests may take after SIGTERM (--shutdown-grace-ms),
// and the pod's grace around it: the drain plus time to close connections.
constexpr int kShutdownGraceMs = 5000;
constexpr int kTerminationGraceSeconds = kShutdownGraceMs / 1000 + 10;
}  // namespace

Result<json> ProxyDeployment(const RedisClusterSpec& spec, const ClusterIdentity& id,
                             const ObservedAddresses& addresses) {
  auto configserver = ConfigServerUrl(addresses);
  if (!configserver.ok()) return configserver.status();
  const json selector = SelectorLabels(id.name, kComponentProxy);
  json container = {
      {"name", "proxy"},
      {"image", spec.images.proxy},
      {"command", json::array({"redkube-proxy"})},
      // --announce-address: where cluster-mode clients are told this proxy
      // is (CLUSTER SLOTS): the pod IP, which the downward API gives.
      {"args", json::array({"--bind", "$(POD_IP)", "--port", std::to_string(kRedisPort), "--announce-address",
                            "$(POD_IP):" + std::to_string(kRedisPort), "--admin-port",
                            std::to_string(kProxyAdminPort), "--configserver", configserver.value(),
                            "--cluster", id.name, "--token-file", parts::AuthFile(kApiTokenKey),
                            "--password-file", parts::AuthFile(kPasswordKey), "--id", "$(POD_NAME)",
                            "--shutdown-grace-ms", std::to_string(kShutdownGraceMs)})},
      {"env", parts::PodIdentityEnv()},
      {"ports", json::array({{{"name", "redis"}, {"containerPort", kRedisPort}},
                             {{"name", "admin"}, {"containerPort", kProxyAdminPort}}})},
      // Ready once it holds a topology; alive while its loops answer.
      {"readinessProbe", parts::HttpProbe("/readyz", kProxyAdminPort, 5, 3)},
      {"livenessProbe", parts::HttpProbe("/healthz", kProxyAdminPort, 10, 3)},
      {"resources", spec.resources.proxy},
      {"securityContext", parts::ContainerSecurityContext()},
      {"volumeMounts", json::array({parts::AuthMount()})},
  };
  json deploy =
      parts::Object("apps/v1", "Deployment",
                    parts::Metadata(id, ProxyName(id.name), ObjectLabels(id.name, kComponentProxy)));
  // No spec.replicas: see ProxyDeployment in object_builders.h.
  deploy["spec"] = {
      {"selector", {{"matchLabels", selector}}},
      // Capacity never drops during a rollout: the new proxy is ready before
      // an old one drains.
      {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
      {"template",
       {{"metadata", {{"labels", ObjectLabels(id.name, kComponentProxy)}}},
        {"spec",
         {{"securityContext", parts::PodSecurityContext()},
          {"affinity", parts::PreferredHostAntiAffinity(selector)},
          {"topologySpreadConstraints", json::array({{{"maxSkew", 1},
                                                      {"topologyKey", "kubernetes.io/hostname"},
                                                      {"whenUnsatisfiable", "ScheduleAnyway"},
                                                      {"labelSelector", {{"matchLabels", selector}}}}})},
          {"terminationGracePeriodSeconds", kTerminationGraceSeconds},
          {"containers", json::array({container})},
          {"volumes", json::array({parts::AuthVolume(spec, id)})}}}}},
  };
  return deploy;
}

json ProxyInitialScale(const RedisClusterSpec& spec) {
  return {{"spec", {{"replicas", spec.proxy.min_replicas}}}};
}

json ProxyService(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::Service(
      id, ProxyName(id.name), ObjectLabels(id.name, kComponentProxy),
      SelectorLabels(id.name, kComponentProxy),
      json::array({parts::ServicePort("redis", kRedisPort), parts::ServicePort("admin", kProxyAdminPort)}),
      /*headless=*/false);
}

json ProxyHorizontalPodAutoscaler(const RedisClusterSpec& spec, const ClusterIdentity& id) {
  json hpa = parts::Object("autoscaling/v2", "HorizontalPodAutoscaler",
                           parts::Metadata(id, ProxyName(id.name), ObjectLabels(id.name, kComponentProxy)));
  hpa["spec"] = {
      {"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", ProxyName(id.name)}}},
      {"minReplicas", spec.proxy.min_replicas},
      {"maxReplicas", spec.proxy.max_replicas},
      {"metrics",
       json::array(
           {{{"type", "Resource"},
             {"resource",
              {{"name", "cpu"},
               {"target",
                {{"type", "Utilization"}, {"averageUtilization", spec.proxy.target_cpu_utilization}}}}}}})},
  };
  return hpa;
}

json ProxyPodDisruptionBudget(const RedisClusterSpec&, const ClusterIdentity& id) {
  return parts::PodDisruptionBudget(id, ProxyName(id.name), ObjectLabels(id.name, kComponentProxy),
                                    SelectorLabels(id.name, kComponentProxy));
}

}  // namespace redkube::op
