#include "operator/kube/resource_path.h"

#include <gtest/gtest.h>

namespace redkube::kube {
namespace {

TEST(ResourcePathTest, CoreGroupObjectsAndCollections) {
  EXPECT_EQ(Path(resources::kPods, "default", "web-0"), "/api/v1/namespaces/default/pods/web-0");
  EXPECT_EQ(Path(resources::kPods, "default"), "/api/v1/namespaces/default/pods");
  EXPECT_EQ(Path(resources::kPods, ""), "/api/v1/pods");  // all namespaces
  EXPECT_EQ(Path(resources::kEvents, "ns1"), "/api/v1/namespaces/ns1/events");
}

TEST(ResourcePathTest, NamedGroupsAndSubresources) {
  EXPECT_EQ(Path(resources::kStatefulSets, "prod", "demo-shard-0"),
            "/apis/apps/v1/namespaces/prod/statefulsets/demo-shard-0");
  EXPECT_EQ(Path(resources::kRedisClusters, "prod", "demo", "status"),
            "/apis/redkube.io/v1alpha1/namespaces/prod/redisclusters/demo/status");
  EXPECT_EQ(Path(resources::kLeases, "ops", "redkube-operator"),
            "/apis/coordination.k8s.io/v1/namespaces/ops/leases/redkube-operator");
  EXPECT_EQ(Path(resources::kPodDisruptionBudgets, "a", "b"),
            "/apis/policy/v1/namespaces/a/poddisruptionbudgets/b");
  EXPECT_EQ(Path(resources::kHorizontalPodAutoscalers, "a"),
            "/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers");
  EXPECT_EQ(Path(resources::kEndpointSlices, "a"), "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices");
  // A subresource without a name has nothing to hang on.
  EXPECT_EQ(Path(resources::kPods, "a", "", "status"), "/api/v1/namespaces/a/pods");
}

TEST(ResourcePathTest, ClusterScopedIgnoresTheNamespace) {
  EXPECT_EQ(Path(resources::kNodes, "default", "n1"), "/api/v1/nodes/n1");
}

TEST(ResourcePathTest, ApiVersion) {
  EXPECT_EQ(resources::kConfigMaps.ApiVersion(), "v1");
  EXPECT_EQ(resources::kDeployments.ApiVersion(), "apps/v1");
  EXPECT_EQ(resources::kRedisClusters.ApiVersion(), "redkube.io/v1alpha1");
}

TEST(ResourcePathTest, QueryEncoding) {
  EXPECT_EQ(PercentEncode("app.kubernetes.io/name=redkube"), "app.kubernetes.io%2Fname%3Dredkube");
  EXPECT_EQ(PercentEncode("tier in (a,b)"), "tier%20in%20%28a%2Cb%29");
  EXPECT_EQ(PercentEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(PercentEncode("!x"), "%21x");
  EXPECT_EQ(QueryString({}), "");
  EXPECT_EQ(QueryString({{"labelSelector", ""}}), "");
  EXPECT_EQ(QueryString({{"watch", "true"}, {"labelSelector", ""}, {"resourceVersion", "12"}}),
            "?watch=true&resourceVersion=12");
  EXPECT_EQ(QueryString({{"labelSelector", "a=b,c!=d"}}), "?labelSelector=a%3Db%2Cc%21%3Dd");
}

}  // namespace
}  // namespace redkube::kube
