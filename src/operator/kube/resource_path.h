// Where a Kubernetes resource lives in the API server's URL space, and the
// resources the operator uses. A Resource is plain data (group, version,
// plural, scope), so the client needs no discovery round trip: the operator
// only speaks to kinds it knows at build time.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace redkube::kube {

// Constant data (string_views of literals): resources are known at build time,
// and constexpr constants have no static-initialisation order to worry about.
struct Resource {
  std::string_view group;    // "" for the core group ("/api/v1")
  std::string_view version;  // "v1"
  std::string_view plural;   // "pods"
  bool namespaced = true;
  std::string_view kind;  // "Pod": for objects the client builds itself (Events, Leases)

  // "v1" for the core group, else "GROUP/VERSION": an object's apiVersion.
  std::string ApiVersion() const;
};

namespace resources {
inline constexpr Resource kPods{"", "v1", "pods", true, "Pod"};
inline constexpr Resource kServices{"", "v1", "services", true, "Service"};
inline constexpr Resource kSecrets{"", "v1", "secrets", true, "Secret"};
inline constexpr Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
inline constexpr Resource kServiceAccounts{"", "v1", "serviceaccounts", true, "ServiceAccount"};
inline constexpr Resource kEvents{"", "v1", "events", true, "Event"};
inline constexpr Resource kNodes{"", "v1", "nodes", false, "Node"};
inline constexpr Resource kNamespaces{"", "v1", "namespaces", false, "Namespace"};
inline constexpr Resource kStatefulSets{"apps", "v1", "statefulsets", true, "StatefulSet"};
inline constexpr Resource kDeployments{"apps", "v1", "deployments", true, "Deployment"};
inline constexpr Resource kPodDisruptionBudgets{"policy", "v1", "poddisruptionbudgets", true,
                                                "PodDisruptionBudget"};
inline constexpr Resource kHorizontalPodAutoscalers{"autoscaling", "v2", "horizontalpodautoscalers", true,
                                                    "HorizontalPodAutoscaler"};
inline constexpr Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
inline constexpr Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true, "EndpointSlice"};
inline constexpr Resource kRedisClusters{"redkube.io", "v1alpha1", "redisclusters", true, "RedisCluster"};
}  // namespace resources

// The URL path of a collection or an object:
//   core:   /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]
//   groups: /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]
// `ns` is ignored for cluster-scoped resources; empty `ns` on a namespaced
// resource is the all-namespaces collection (valid for list and watch only).
// A subresource needs a name. Names are not escaped: Kubernetes names are DNS
// labels/subdomains and never need it.
std::string Path(const Resource& resource, std::string_view ns, std::string_view name = "",
                 std::string_view subresource = "");

// RFC 3986 percent-encoding of a query value (everything but unreserved
// characters), e.g. a label selector "app in (a,b)" -> "app%20in%20%28a%2Cb%29".
std::string PercentEncode(std::string_view value);

// "?k1=v1&k2=v2" with the values percent-encoded, pairs with an empty value
// left out; "" when nothing is left.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace redkube::kube
