#include "operator/redis_cluster.h"

#include <gtest/gtest.h>

namespace redkube::op {
namespace {

json Resource(json spec) {
  return {{"apiVersion", "redkube.io/v1alpha1"},
          {"kind", "RedisCluster"},
          {"metadata", {{"name", "demo"}, {"namespace", "default"}, {"uid", "u-1"}, {"generation", 4}}},
          {"spec", std::move(spec)}};
}

TEST(ParseSpecTest, AnEmptySpecTakesTheContractDefaults) {
  auto spec = ParseSpec(Resource(json::object()));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->shards, 3);
  EXPECT_EQ(spec->replicas_per_shard, 1);
  EXPECT_EQ(spec->proxy.min_replicas, 2);
  EXPECT_EQ(spec->proxy.max_replicas, 4);
  EXPECT_EQ(spec->proxy.target_cpu_utilization, 70);
  EXPECT_EQ(spec->storage.size, "1Gi");
  EXPECT_EQ(spec->storage.class_name, "");
  EXPECT_EQ(spec->password_secret.name, "");
  EXPECT_EQ(spec->password_secret.key, "password");
  EXPECT_EQ(spec->etcd.members, 3);
  EXPECT_FALSE(spec->etcd.external());
  EXPECT_EQ(spec->upgrade_grace_seconds, 30);
  EXPECT_FALSE(spec->paused);
  EXPECT_TRUE(spec->redis_config.empty());
  EXPECT_EQ(spec->resources.proxy["requests"]["cpu"], "100m");
  EXPECT_EQ(spec->images.server, ImagesSpec{}.server);
}

TEST(ParseSpecTest, NoSpecAtAllReadsAsEmpty) {
  json r = Resource(nullptr);
  r.erase("spec");
  EXPECT_TRUE(ParseSpec(r).ok());
}

TEST(ParseSpecTest, ReadsEveryField) {
  auto spec = ParseSpec(Resource({
      {"shards", 5},
      {"replicasPerShard", 2},
      {"proxy", {{"minReplicas", 3}, {"maxReplicas", 9}, {"targetCPUUtilization", 55}}},
      {"images", {{"server", "s:1"}, {"proxy", "p:1"}, {"configserver", "c:1"}, {"etcd", "e:1"}}},
      {"resources", {{"server", {{"limits", {{"memory", "1Gi"}}}}}, {"proxy", {{"requests", {{"cpu", 1}}}}}}},
      {"storage", {{"className", "local"}, {"size", "2Gi"}}},
      {"passwordSecret", {{"name", "mine"}, {"key", "pw"}}},
      {"redisConfig", {{"maxmemory-policy", "noeviction"}, {"save", ""}}},
      {"etcd", {{"members", 1}, {"endpoints", {"http://10.1.2.3:2379"}}, {"storageSize", "512Mi"}}},
      {"upgradeGraceSeconds", 7},
      {"paused", true},
  }));
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->shards, 5);
  EXPECT_EQ(spec->replicas_per_shard, 2);
  EXPECT_EQ(spec->proxy.min_replicas, 3);
  EXPECT_EQ(spec->proxy.max_replicas, 9);
  EXPECT_EQ(spec->proxy.target_cpu_utilization, 55);
  EXPECT_EQ(spec->images.server, "s:1");
  EXPECT_EQ(spec->images.proxy, "p:1");
  EXPECT_EQ(spec->images.configserver, "c:1");
  EXPECT_EQ(spec->images.etcd, "e:1");
  EXPECT_EQ(spec->resources.server["limits"]["memory"], "1Gi");
  EXPECT_EQ(spec->storage.class_name, "local");
  EXPECT_EQ(spec->storage.size, "2Gi");
  EXPECT_EQ(spec->password_secret.name, "mine");
  EXPECT_EQ(spec->password_secret.key, "pw");
  EXPECT_EQ(spec->redis_config.at("maxmemory-policy"), "noeviction");
  EXPECT_EQ(spec->etcd.members, 1);
  ASSERT_TRUE(spec->etcd.external());
  EXPECT_EQ(spec->etcd.endpoints[0], "http://10.1.2.3:2379");
  EXPECT_EQ(spec->etcd.storage_size, "512Mi");
  EXPECT_EQ(spec->upgrade_grace_seconds, 7);
  EXPECT_TRUE(spec->paused);
}

TEST(ParseSpecTest, OperatorImageDefaultsFillWhatTheSpecLeavesOut) {
  ImagesSpec defaults;
  defaults.proxy = "registry.local/proxy:9";
  auto spec = ParseSpec(Resource({{"images", {{"server", "s:1"}}}}), defaults);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->images.proxy, "registry.local/proxy:9");
  EXPECT_EQ(spec->images.server, "s:1");
}

void ExpectRefused(const json& spec, const std::string& mentions) {
  auto parsed = ParseSpec(Resource(spec));
  ASSERT_FALSE(parsed.ok()) << spec.dump();
  EXPECT_NE(parsed.error().find(mentions), std::string::npos) << parsed.error();
}

TEST(ParseSpecTest, RefusesWhatTheSchemaCannotOrMightNotCatch) {
  ExpectRefused({{"proxy", {{"minReplicas", 5}, {"maxReplicas", 4}}}},
                "minReplicas (5) is above maxReplicas (4)");
  ExpectRefused({{"shards", 0}}, "spec.shards");
  ExpectRefused({{"shards", 65}}, "spec.shards");
  ExpectRefused({{"shards", "3"}}, "spec.shards: must be an integer");
  ExpectRefused({{"replicasPerShard", -1}}, "spec.replicasPerShard");
  ExpectRefused({{"etcd", {{"members", 2}}}}, "spec.etcd.members: must be 1 or 3");
  ExpectRefused({{"etcd", {{"endpoints", {"http://a:2379", "http://b:2379"}}}}}, "one etcd URL");
  ExpectRefused({{"etcd", {{"endpoints", {"a:2379"}}}}}, "not an http(s)://host:port");
  ExpectRefused({{"redisConfig", {{"requirepass", "x"}}}}, "\"requirepass\" is set by the platform");
  ExpectRefused({{"redisConfig", {{"maxmemory", 100}}}}, "must be a string");
  ExpectRefused({{"redisConfig", {{"maxmemory", "1\nrequirepass x"}}}}, "one line");
  ExpectRefused({{"storage", {{"size", "lots"}}}}, "spec.storage.size");
  ExpectRefused({{"passwordSecret", {{"name", "demo-auth"}}}}, "operator's own Secret");
  ExpectRefused({{"passwordSecret", {{"name", "Bad_Name"}}}}, "not a Secret name");
  ExpectRefused({{"resources", {{"proxy", {{"limits", {{"memory", "1Gi"}}}}}}}}, "requests.cpu");
  ExpectRefused({{"resources", {{"server", {{"request", json::object()}}}}}}, "unknown field");
  ExpectRefused({{"images", {{"proxy", "a b"}}}}, "whitespace");
  ExpectRefused({{"paused", "yes"}}, "spec.paused: must be a boolean");
}

TEST(ValidateRedisConfigTest, RefusesEveryPlatformOwnedKeyInAnyCase) {
  for (const char* key : {"rename-command", "requirepass", "masterauth", "replicaof", "slaveof", "bind",
                          "port", "dir", "include", "daemonize"}) {
    EXPECT_TRUE(IsPlatformOwnedRedisConfigKey(key)) << key;
    EXPECT_FALSE(ValidateRedisConfig({{key, "x"}}).ok()) << key;
  }
  EXPECT_TRUE(IsPlatformOwnedRedisConfigKey("RequirePass"));
  EXPECT_FALSE(ValidateRedisConfig({{"Maxmemory", "1mb"}}).ok());  // not lowercase: one spelling per key
  EXPECT_FALSE(ValidateRedisConfig({{"max memory", "1mb"}}).ok());
  EXPECT_TRUE(ValidateRedisConfig({{"maxmemory", "1mb"}, {"save", "900 1 300 10"}}).ok());
}

TEST(ParseIdentityTest, ReadsMetadataAndRefusesNamesObjectsCannotBeNamedAfter) {
  auto id = ParseIdentity(Resource(json::object()));
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_EQ(id->name, "demo");
  EXPECT_EQ(id->namespace_name, "default");
  EXPECT_EQ(id->uid, "u-1");
  EXPECT_EQ(id->generation, 4);

  json r = Resource(json::object());
  r["metadata"]["name"] = std::string(kMaxClusterNameLength + 1, 'a');
  EXPECT_FALSE(ParseIdentity(r).ok());
  r["metadata"]["name"] = std::string(kMaxClusterNameLength, 'a');
  EXPECT_TRUE(ParseIdentity(r).ok());
  r["metadata"]["name"] = "1demo";
  EXPECT_FALSE(ParseIdentity(r).ok());
  r["metadata"]["name"] = "demo.x";
  EXPECT_FALSE(ParseIdentity(r).ok());
  r = Resource(json::object());
  r["metadata"].erase("uid");
  EXPECT_FALSE(ParseIdentity(r).ok());
}

TEST(SetConditionTest, KeepsTheTransitionTimeWhileTheStatusHolds) {
  using namespace std::chrono;
  const auto t0 = system_clock::time_point(seconds(1714564800));  // 2024-05-01T12:00:00Z
  const auto t1 = t0 + minutes(5);
  const auto t2 = t0 + minutes(9);
  std::vector<Condition> conditions;

  EXPECT_TRUE(
      SetCondition(&conditions, kConditionReady, ConditionStatus::kFalse, "Creating", "1 of 3", t0, 1));
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].last_transition_time, "2024-05-01T12:00:00Z");

  // Same status, new message: the time stays.
  EXPECT_TRUE(
      SetCondition(&conditions, kConditionReady, ConditionStatus::kFalse, "Creating", "2 of 3", t1, 1));
  EXPECT_EQ(conditions[0].last_transition_time, "2024-05-01T12:00:00Z");
  EXPECT_EQ(conditions[0].message, "2 of 3");
  // Nothing new: nothing changed.
  EXPECT_FALSE(
      SetCondition(&conditions, kConditionReady, ConditionStatus::kFalse, "Creating", "2 of 3", t1, 1));

  // The status flips: the time moves.
  EXPECT_TRUE(
      SetCondition(&conditions, kConditionReady, ConditionStatus::kTrue, "AllShardsReady", "", t2, 2));
  EXPECT_EQ(conditions[0].last_transition_time, "2024-05-01T12:09:00Z");
  EXPECT_EQ(conditions[0].observed_generation, 2);

  // Another type is its own entry.
  EXPECT_TRUE(SetCondition(&conditions, kConditionDegraded, ConditionStatus::kFalse, "AsExpected", "", t2));
  EXPECT_EQ(conditions.size(), 2u);
  ASSERT_NE(FindCondition(conditions, kConditionDegraded), nullptr);
  EXPECT_EQ(FindCondition(conditions, kConditionProgressing), nullptr);
}

TEST(RedisClusterStatusTest, RoundTripsThroughJsonSoTransitionTimesCarryOver) {
  RedisClusterStatus status;
  status.phase = Phase::kDegraded;
  status.observed_generation = 3;
  status.ready_shards = 2;
  status.topology_epoch = 41;
  status.proxy_service = "10.0.0.9:6379";
  status.shards = 3;
  SetCondition(&status.conditions, kConditionReady, ConditionStatus::kFalse, "ShardsNotReady", "shard-1",
               std::chrono::system_clock::time_point(std::chrono::seconds(0)), 3);
  const json j = status.ToJson();
  EXPECT_EQ(j["phase"], "Degraded");
  EXPECT_EQ(j["readyShards"], 2);
  EXPECT_EQ(j["topologyEpoch"], 41);
  EXPECT_EQ(j["proxyService"], "10.0.0.9:6379");
  EXPECT_EQ(j["shards"], 3);
  EXPECT_EQ(j["observedGeneration"], 3);
  EXPECT_EQ(j["conditions"][0]["status"], "False");
  EXPECT_EQ(j["conditions"][0]["lastTransitionTime"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(RedisClusterStatus::FromJson(j).ToJson(), j);

  const json body = StatusApplyBody(ClusterIdentity{"demo", "ns1", "u", 3}, status);
  EXPECT_EQ(body["apiVersion"], "redkube.io/v1alpha1");
  EXPECT_EQ(body["kind"], "RedisCluster");
  EXPECT_EQ(body["metadata"], json({{"name", "demo"}, {"namespace", "ns1"}}));
  EXPECT_EQ(body["status"], j);
}

}  // namespace
}  // namespace redkube::op
