#include "operator/object_builders.h"

#include <gtest/gtest.h>

#include <set>

#include "operator/secret_value.h"

namespace redkube::op {
namespace {

using nlohmann::json;

const ClusterIdentity kId{"demo", "prod", "0b7e-uid", 1};
const ObservedAddresses kAddresses{"10.0.0.20", "10.0.0.21"};

RedisClusterSpec SampleSpec() {
  json resource = {{"metadata", {{"name", "demo"}, {"namespace", "prod"}, {"uid", "0b7e-uid"}}},
                   {"spec",
                    {{"shards", 3},
                     {"replicasPerShard", 1},
                     {"proxy", {{"minReplicas", 2}, {"maxReplicas", 6}, {"targetCPUUtilization", 60}}},
                     {"storage", {{"className", "local"}, {"size", "2Gi"}}},
                     {"resources", {{"server", {{"requests", {{"cpu", "500m"}, {"memory", "1Gi"}}}}}}},
                     {"redisConfig", {{"maxmemory-policy", "noeviction"}, {"save", ""}}},
                     {"etcd", {{"members", 1}}},
                     {"upgradeGraceSeconds", 45}}}};
  auto spec = ParseSpec(resource);
  EXPECT_TRUE(spec.ok()) << spec.error();
  return spec.value();
}

json Value(const Result<json>& r) {
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? r.value() : json();
}

// Every object of the cluster, as the reconciler would apply them.
std::vector<json> AllObjects(const RedisClusterSpec& spec) {
  std::vector<json> out = {AuthSecret(spec, kId, {"pw", "tok"}),
                           Value(ServerConfigMap(spec, kId)),
                           EtcdStatefulSet(spec, kId),
                           EtcdHeadlessService(spec, kId),
                           EtcdClientService(spec, kId),
                           EtcdPodDisruptionBudget(spec, kId),
                           Value(ConfigServerDeployment(spec, kId, kAddresses)),
                           ConfigServerService(spec, kId),
                           ConfigServerPodDisruptionBudget(spec, kId),
                           Value(ProxyDeployment(spec, kId, kAddresses)),
                           ProxyService(spec, kId),
                           ProxyHorizontalPodAutoscaler(spec, kId),
                           ProxyPodDisruptionBudget(spec, kId)};
  for (int k = 0; k < spec.shards; ++k) {
    out.push_back(Value(ShardStatefulSet(spec, kId, k, kAddresses)));
    out.push_back(ShardHeadlessService(spec, kId, k));
    out.push_back(ShardPodDisruptionBudget(spec, kId, k));
  }
  return out;
}

const json& Container(const json& workload, const std::string& name, const char* list = "containers") {
  for (const json& c : workload["spec"]["template"]["spec"][list]) {
    if (c["name"] == name) return c;
  }
  static const json kNone;
  ADD_FAILURE() << "no container " << name;
  return kNone;
}

std::vector<std::string> Strings(const json& list) { return list.get<std::vector<std::string>>(); }

TEST(ObjectNamesTest, NamesFollowTheContract) {
  EXPECT_EQ(ShardId(2), "shard-2");
  EXPECT_EQ(AuthSecretName("demo"), "demo-auth");
  EXPECT_EQ(ServerConfigMapName("demo"), "demo-server-config");
  EXPECT_EQ(EtcdName("demo"), "demo-etcd");
  EXPECT_EQ(EtcdClientServiceName("demo"), "demo-etcd-client");
  EXPECT_EQ(EtcdPodName("demo", 2), "demo-etcd-2");
  EXPECT_EQ(ConfigServerName("demo"), "demo-configserver");
  EXPECT_EQ(ShardStatefulSetName("demo", 7), "demo-shard-7");
  EXPECT_EQ(ShardPodName("demo", 7, 1), "demo-shard-7-1");
  EXPECT_EQ(ShardMemberName(7, 1), "shard-7-1");
  EXPECT_EQ(ProxyName("demo"), "demo-proxy");
}

TEST(ObjectBuildersTest, EveryObjectHasItsNameLabelsNamespaceAndOwner) {
  const std::set<std::string> expected_names = {"demo-auth",        "demo-server-config", "demo-etcd",
                                                "demo-etcd-client", "demo-configserver",  "demo-proxy",
                                                "demo-shard-0",     "demo-shard-1",       "demo-shard-2"};
  std::set<std::pair<std::string, std::string>> seen;  // (kind, name)
  for (const json& obj : AllObjects(SampleSpec())) {
    SCOPED_TRACE(obj["kind"].get<std::string>() + " " + obj["metadata"]["name"].get<std::string>());
    ASSERT_TRUE(obj.contains("apiVersion"));
    const json& meta = obj["metadata"];
    EXPECT_TRUE(expected_names.count(meta["name"].get<std::string>())) << meta["name"];
    const bool first = seen.insert({obj["kind"].get<std::string>(), meta["name"].get<std::string>()}).second;
    EXPECT_TRUE(first) << "built twice";
    EXPECT_EQ(meta["namespace"], "prod");
    const json& labels = meta["labels"];
    EXPECT_EQ(labels["app.kubernetes.io/name"], "redkube");
    EXPECT_EQ(labels["app.kubernetes.io/instance"], "demo");
    EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "redkube-operator");
    EXPECT_EQ(labels["redkube.io/cluster"], "demo");
    EXPECT_TRUE(labels.contains("app.kubernetes.io/component"));
    const std::string name = meta["name"];
    if (name.rfind("demo-shard-", 0) == 0) {
      EXPECT_EQ(labels["redkube.io/shard"], name.substr(5));
    }
    ASSERT_EQ(meta["ownerReferences"].size(), 1u);
    EXPECT_EQ(meta["ownerReferences"][0], json({{"apiVersion", "redkube.io/v1alpha1"},
                                                {"kind", "RedisCluster"},
                                                {"name", "demo"},
                                                {"uid", "0b7e-uid"},
                                                {"controller", true},
                                                {"blockOwnerDeletion", true}}));
    EXPECT_FALSE(obj.contains("status"));
  }
  // 2 + etcd 4 + configserver 3 + proxy 4 + 3 shards x 3.
  EXPECT_EQ(seen.size(), 22u);
}

TEST(ObjectBuildersTest, BuildingTwiceGivesTheSameJson) {
  const auto a = AllObjects(SampleSpec());
  const auto b = AllObjects(SampleSpec());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].dump(), b[i].dump());
}

TEST(ObjectBuildersTest, ShardStatefulSetKeepsAShardsPodsApartWithItsOwnVolumeAndStartStep) {
  const RedisClusterSpec spec = SampleSpec();
  const json sts = Value(ShardStatefulSet(spec, kId, 1, kAddresses));
  EXPECT_EQ(sts["apiVersion"], "apps/v1");
  EXPECT_EQ(sts["kind"], "StatefulSet");
  const json& s = sts["spec"];
  EXPECT_EQ(s["replicas"], 2);
  EXPECT_EQ(s["serviceName"], "demo-shard-1");
  EXPECT_EQ(s["podManagementPolicy"], "Parallel");
  EXPECT_EQ(s["updateStrategy"]["type"], "OnDelete");
  const json selector = s["selector"]["matchLabels"];
  EXPECT_EQ(selector["redkube.io/shard"], "shard-1");
  EXPECT_EQ(selector["app.kubernetes.io/component"], "server");
  // The pods carry what the selector selects.
  for (const auto& [k, v] : selector.items()) EXPECT_EQ(s["template"]["metadata"]["labels"][k], v) << k;

  const json& pod = s["template"]["spec"];
  const json& terms = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0]["topologyKey"], "kubernetes.io/hostname");
  EXPECT_EQ(terms[0]["labelSelector"]["matchLabels"], selector);  // within the shard, not across shards
  EXPECT_EQ(pod["terminationGracePeriodSeconds"], 45);

  ASSERT_EQ(s["volumeClaimTemplates"].size(), 1u);
  const json& claim = s["volumeClaimTemplates"][0];
  EXPECT_EQ(claim["metadata"]["name"], "data");
  EXPECT_EQ(claim["spec"]["storageClassName"], "local");
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "2Gi");
  EXPECT_EQ(claim["spec"]["accessModes"], json::array({"ReadWriteOnce"}));

  EXPECT_FALSE(pod.contains("initContainers"))
      << "the start step runs in the redis container, each time it starts";
  const json& redis = Container(sts, "redis");
  EXPECT_EQ(Strings(redis["command"]), std::vector<std::string>{"redkube-server-start"});
  EXPECT_EQ(Strings(redis["args"]),
            (std::vector<std::string>{"--configserver",  "http://10.0.0.20:8080",
                                      "--token-file",    "/etc/redkube/auth/api-token",
                                      "--cluster",       "demo",
                                      "--shard",         "shard-1",
                                      "--password-file", "/etc/redkube/auth/password",
                                      "--bind",          "$(POD_IP)",
                                      "--port",          "6379",
                                      "--dir",           "/data",
                                      "--include",       "/etc/redkube/config/redis.conf",
                                      "--out",           "/data/redkube.conf",
                                      "--exec"}));
  EXPECT_EQ(redis["readinessProbe"]["tcpSocket"]["port"], 6379);
  EXPECT_EQ(redis["resources"]["requests"]["memory"], "1Gi");
  EXPECT_EQ(redis["image"], spec.images.server);
  EXPECT_EQ(s["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Delete");

  // Mounts: the start step sees secrets, config and data.
  auto mounts = [](const json& c) {
    std::map<std::string, std::string> m;
    for (const json& v : c["volumeMounts"]) m[v["name"]] = v["mountPath"];
    return m;
  };
  EXPECT_EQ(mounts(redis),
            (std::map<std::string, std::string>{
                {"auth", "/etc/redkube/auth"}, {"config", "/etc/redkube/config"}, {"data", "/data"}}));
  const json& start = redis;
  // POD_IP and POD_NAME from the downward API.
  std::map<std::string, std::string> env;
  for (const json& e : start["env"]) env[e["name"]] = e["valueFrom"]["fieldRef"]["fieldPath"];
  EXPECT_EQ(env["POD_IP"], "status.podIP");
  EXPECT_EQ(env["POD_NAME"], "metadata.name");
}

TEST(ObjectBuildersTest, SecretsAreFilesNeverArgumentsOrEnvironment) {
  const RedisClusterSpec spec = SampleSpec();
  for (const json& obj : AllObjects(spec)) {
    if (!obj.contains("spec") || !obj["spec"].contains("template")) continue;
    for (const char* list : {"initContainers", "containers"}) {
      for (const json& c : obj["spec"]["template"]["spec"].value(list, json::array())) {
        const std::string text = c["args"].dump() + c["command"].dump() + c["env"].dump();
        EXPECT_EQ(text.find("\"pw\""), std::string::npos) << c["name"];
        EXPECT_EQ(text.find("\"tok\""), std::string::npos) << c["name"];
        EXPECT_EQ(text.find("secretKeyRef"), std::string::npos) << c["name"];
        EXPECT_FALSE(c.contains("envFrom")) << c["name"];
        ASSERT_TRUE(c.contains("command")) << c["name"];
        // Every container binds the pod IP, never 0.0.0.0.
        EXPECT_EQ(c["args"].dump().find("0.0.0.0"), std::string::npos) << c["name"];
      }
    }
  }
}

TEST(ObjectBuildersTest, AuthSecretAndTheVolumeThatMountsIt) {
  RedisClusterSpec spec = SampleSpec();
  const json secret = AuthSecret(spec, kId, {"pw", "tok"});
  EXPECT_EQ(secret["data"], json({{"password", "cHc="}, {"api-token", "dG9r"}}));
  const json cs = Value(ConfigServerDeployment(spec, kId, kAddresses));
  const json& sources = cs["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"];
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0]["secret"]["name"], "demo-auth");

  // The user's own password Secret: NAME-auth holds only the token, and the
  // user's key is mounted under the same file name.
  spec.password_secret = {"user-pw", "secret-key"};
  EXPECT_EQ(AuthSecret(spec, kId, {"pw", "tok"})["data"], json({{"api-token", "dG9r"}}));
  const json proxy = Value(ProxyDeployment(spec, kId, kAddresses));
  const json& volume = proxy["spec"]["template"]["spec"]["volumes"][0];
  EXPECT_EQ(volume["name"], "auth");
  ASSERT_EQ(volume["projected"]["sources"].size(), 2u);
  EXPECT_EQ(volume["projected"]["sources"][1]["secret"],
            json({{"name", "user-pw"}, {"items", {{{"key", "secret-key"}, {"path", "password"}}}}}));
}

TEST(ObjectBuildersTest, ServerConfigMapHoldsRedisConfAndRefusesPlatformKeys) {
  RedisClusterSpec spec = SampleSpec();
  const json cm = Value(ServerConfigMap(spec, kId));
  const std::string conf = cm["data"]["redis.conf"];
  EXPECT_NE(conf.find("\nmaxmemory-policy noeviction\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("\nsave \"\"\n"), std::string::npos) << conf;
  // Sorted by key.
  EXPECT_LT(conf.find("maxmemory-policy"), conf.find("save"));

  for (const char* key :
       {"rename-command", "requirepass", "masterauth", "replicaof", "bind", "port", "dir", "include"}) {
    spec.redis_config = {{key, "x"}};
    auto refused = ServerConfigMap(spec, kId);
    ASSERT_FALSE(refused.ok()) << key;
    EXPECT_NE(refused.error().find(key), std::string::npos) << refused.error();
  }
  spec.redis_config = {{"maxmemory", "1mb\nrequirepass x"}};
  EXPECT_FALSE(ServerConfigMap(spec, kId).ok());
}

TEST(ObjectBuildersTest, ProxyFleetSpreadsScalesOnCpuAndLeavesReplicasToTheHpa) {
  const RedisClusterSpec spec = SampleSpec();
  const json deploy = Value(ProxyDeployment(spec, kId, kAddresses));
  EXPECT_FALSE(deploy["spec"].contains("replicas"));
  EXPECT_EQ(ProxyInitialScale(spec), json({{"spec", {{"replicas", 2}}}}));
  const json& pod = deploy["spec"]["template"]["spec"];
  const json& preferred =
      pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"];
  ASSERT_EQ(preferred.size(), 1u);
  EXPECT_EQ(preferred[0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
  EXPECT_FALSE(pod["affinity"]["podAntiAffinity"].contains("requiredDuringSchedulingIgnoredDuringExecution"));
  ASSERT_EQ(pod["topologySpreadConstraints"].size(), 1u);
  EXPECT_EQ(pod["topologySpreadConstraints"][0]["whenUnsatisfiable"], "ScheduleAnyway");
  EXPECT_EQ(pod["topologySpreadConstraints"][0]["topologyKey"], "kubernetes.io/hostname");

  const json& proxy = Container(deploy, "proxy");
  EXPECT_EQ(Strings(proxy["command"]), std::vector<std::string>{"redkube-proxy"});
  const std::vector<std::string> expected_args = {"--bind",
                                                  "$(POD_IP)",
                                                  "--port",
                                                  "6379",
                                                  "--announce-address",
                                                  "$(POD_IP):6379",
                                                  "--admin-port",
                                                  "8081",
                                                  "--configserver",
                                                  "http://10.0.0.20:8080",
                                                  "--cluster",
                                                  "demo",
                                                  "--token-file",
                                                  "/etc/redkube/auth/api-token",
                                                  "--password-file",
                                                  "/etc/redkube/auth/password",
                                                  "--id",
                                                  "$(POD_NAME)",
                                                  "--shutdown-grace-ms",
                                                  "5000"};
  EXPECT_EQ(Strings(proxy["args"]), expected_args);
  EXPECT_EQ(proxy["readinessProbe"]["httpGet"],
            json({{"path", "/readyz"}, {"port", 8081}, {"scheme", "HTTP"}}));
  EXPECT_EQ(proxy["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(proxy["resources"]["requests"]["cpu"], "100m");  // the HPA needs a CPU request

  const json hpa = ProxyHorizontalPodAutoscaler(spec, kId);
  EXPECT_EQ(hpa["apiVersion"], "autoscaling/v2");
  EXPECT_EQ(hpa["spec"]["minReplicas"], 2);
  EXPECT_EQ(hpa["spec"]["maxReplicas"], 6);
  EXPECT_EQ(hpa["spec"]["scaleTargetRef"],
            json({{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "demo-proxy"}}));
  EXPECT_EQ(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
  EXPECT_EQ(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 60);

  const json svc = ProxyService(spec, kId);
  EXPECT_EQ(svc["spec"]["ports"][0]["port"], 6379);
  EXPECT_EQ(svc["spec"]["ports"][1]["port"], 8081);
  EXPECT_FALSE(svc["spec"].contains("clusterIP"));
  EXPECT_EQ(ProxyPodDisruptionBudget(spec, kId)["spec"]["maxUnavailable"], 1);
}

TEST(ObjectBuildersTest, ServicesAndBudgetsSelectTheirOwnPods) {
  const RedisClusterSpec spec = SampleSpec();
  const json sts = Value(ShardStatefulSet(spec, kId, 2, kAddresses));
  const json headless = ShardHeadlessService(spec, kId, 2);
  EXPECT_EQ(headless["spec"]["clusterIP"], "None");
  EXPECT_EQ(headless["spec"]["publishNotReadyAddresses"], true);
  EXPECT_EQ(headless["spec"]["selector"], sts["spec"]["selector"]["matchLabels"]);
  const json pdb = ShardPodDisruptionBudget(spec, kId, 2);
  EXPECT_EQ(pdb["apiVersion"], "policy/v1");
  EXPECT_EQ(pdb["spec"]["maxUnavailable"], 1);
  EXPECT_EQ(pdb["spec"]["selector"]["matchLabels"], sts["spec"]["selector"]["matchLabels"]);
  EXPECT_NE(ShardHeadlessService(spec, kId, 1)["spec"]["selector"], headless["spec"]["selector"]);
}

TEST(ObjectBuildersTest, ControlPlaneCommandsAndAddresses) {
  RedisClusterSpec spec = SampleSpec();
  const json cs = Value(ConfigServerDeployment(spec, kId, kAddresses));
  EXPECT_EQ(cs["spec"]["replicas"], 2);
  const json& c = Container(cs, "configserver");
  EXPECT_EQ(Strings(c["command"]), std::vector<std::string>{"redkube-configserver"});
  EXPECT_EQ(Strings(c["args"]),
            (std::vector<std::string>{"--listen", "$(POD_IP):8080", "--etcd", "http://10.0.0.21:2379",
                                      "--token-file", "/etc/redkube/auth/api-token", "--password-file",
                                      "/etc/redkube/auth/password", "--id", "$(POD_NAME)"}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"], 8080);

  const json etcd = EtcdStatefulSet(spec, kId);
  EXPECT_EQ(etcd["spec"]["replicas"], 1);
  const auto args = Strings(Container(etcd, "etcd")["args"]);
  auto flag = [&](const std::string& name) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == name) return args[i + 1];
    return std::string("(absent)");
  };
  EXPECT_EQ(flag("--name"), "$(POD_NAME)");
  EXPECT_EQ(flag("--listen-client-urls"), "http://$(POD_IP):2379");
  EXPECT_EQ(flag("--initial-cluster"), "$(POD_NAME)=http://$(POD_IP):2380");
  EXPECT_EQ(etcd["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"], "local");

  spec.etcd.members = 3;
  const auto args3 = Strings(Container(EtcdStatefulSet(spec, kId), "etcd")["args"]);
  const std::string joined = json(args3).dump();
  EXPECT_NE(joined.find(
                "demo-etcd-0=http://demo-etcd-0.demo-etcd.prod.svc:2380,demo-etcd-1=http://"
                "demo-etcd-1.demo-etcd.prod.svc:2380,demo-etcd-2=http://demo-etcd-2.demo-etcd.prod.svc:2380"),
            std::string::npos)
      << joined;
  EXPECT_EQ(EtcdClientService(spec, kId)["spec"]["ports"][0]["port"], 2379);

  // External etcd: its URL, and no ClusterIP needed.
  spec.etcd.endpoints = {"https://etcd.example:2379"};
  const json external = Value(ConfigServerDeployment(spec, kId, ObservedAddresses{"10.0.0.20", ""}));
  EXPECT_EQ(Strings(Container(external, "configserver")["args"])[3], "https://etcd.example:2379");
}

TEST(ObjectBuildersTest, BuildersWaitForAddressesNotYetObserved) {
  const RedisClusterSpec spec = SampleSpec();
  const ObservedAddresses none;
  EXPECT_FALSE(ShardStatefulSet(spec, kId, 0, none).ok());
  EXPECT_FALSE(ProxyDeployment(spec, kId, none).ok());
  auto cs = ConfigServerDeployment(spec, kId, none);
  ASSERT_FALSE(cs.ok());
  EXPECT_NE(cs.error().find("etcd"), std::string::npos);
}

TEST(ObjectBuildersTest, DefaultStorageClassLeavesTheFieldOut) {
  RedisClusterSpec spec = SampleSpec();
  spec.storage.class_name.clear();
  const json sts = Value(ShardStatefulSet(spec, kId, 0, kAddresses));
  EXPECT_FALSE(sts["spec"]["volumeClaimTemplates"][0]["spec"].contains("storageClassName"));
}

TEST(SecretValueTest, GeneratesDistinct256BitHexValues) {
  auto a = GenerateSecretValue();
  auto b = GenerateSecretValue();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a.value(), b.value());
}

}  // namespace
}  // namespace redkube::op
