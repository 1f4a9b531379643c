#include "operator/kube/kube_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace redkube::kube {
namespace {

namespace fs = std::filesystem;

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kube-config-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (fs::path(dir_) / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

// What the test bed (and `kubectl config`) writes: YAML, files by path.
constexpr char kYaml[] = R"(apiVersion: v1
kind: Config
current-context: admin@testbed
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: pki/ca.crt
- name: other
  cluster:
    server: https://10.1.2.3:443
    insecure-skip-tls-verify: true
contexts:
- name: admin@testbed
  context:
    cluster: testbed
    user: admin
    namespace: redkube-system
- name: robot@other
  context:
    cluster: other
    user: robot
users:
- name: admin
  user:
    client-certificate: /abs/admin.crt
    client-key: pki/admin.key
- name: robot
  user:
    token: s3cr3t
)";

TEST_F(KubeConfigTest, YamlCurrentContextWithFiles) {
  std::string path = Write("config", kYaml);
  auto config = FromKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_file, (fs::path(dir_) / "pki/ca.crt").string());  // relative to the file
  EXPECT_EQ(config->client_cert_file, "/abs/admin.crt");
  EXPECT_EQ(config->client_key_file, (fs::path(dir_) / "pki/admin.key").string());
  EXPECT_EQ(config->ns, "redkube-system");
  EXPECT_TRUE(config->token.empty());
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(KubeConfigTest, NamedContextWithToken) {
  std::string path = Write("config", kYaml);
  auto config = FromKubeconfig(path, "robot@other");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://10.1.2.3:443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "s3cr3t");
  EXPECT_EQ(config->ns, "default");  // the context names none
  EXPECT_TRUE(config->client_cert_file.empty());
  auto missing = FromKubeconfig(path, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("no context \"nope\""), std::string::npos) << missing.error();
}

TEST_F(KubeConfigTest, JsonWithBase64Data) {
  // "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64.
  std::string path = Write("config.json", R"({
    "apiVersion": "v1", "kind": "Config", "current-context": "c",
    "clusters": [{"name": "k", "cluster": {"server": "https://[::1]:6443",
                  "certificate-authority-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="}}],
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "n1"}}],
    "users": [{"name": "u", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}]
  })");
  auto config = FromKubeconfig(path);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://[::1]:6443");
  EXPECT_EQ(config->ca_data, "-----BEGIN CERTIFICATE-----\nCA\n");
  EXPECT_EQ(config->client_cert_data, "cert");
  EXPECT_EQ(config->client_key_data, "key");
  EXPECT_EQ(config->ns, "n1");
}

TEST_F(KubeConfigTest, ErrorsSayWhatIsWrong) {
  auto expect_error = [&](const std::string& text, const std::string& fragment) {
    auto config = FromKubeconfig(Write("bad", text));
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_NE(config.error().find(fragment), std::string::npos) << config.error();
  };
  expect_error("clusters: [\n", "neither YAML nor JSON");
  expect_error("- a\n- b\n", "not a mapping");
  expect_error("clusters: []\n", "no current-context");
  expect_error(R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://x"}}]
users: [{name: u, user: {exec: {command: aws}}}]
)",
               "exec or auth-provider");
  expect_error(R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {}}]
)",
               "has no server");
  expect_error(R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://x"}}]
users: [{name: u, user: {client-certificate: a.crt}}]
)",
               "without the other");
  expect_error(R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://x", certificate-authority-data: "!!!"}}]
)",
               "certificate-authority-data");
  auto absent = FromKubeconfig((fs::path(dir_) / "absent").string());
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().find("cannot read"), std::string::npos);
}

TEST_F(KubeConfigTest, InClusterReadsTheServiceAccountDir) {
  Write("token", "tok-1\n");
  Write("ca.crt", "PEM");
  Write("namespace", "redkube-system\n");
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = InCluster(dir_);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->token_file, (fs::path(dir_) / "token").string());
  EXPECT_EQ(config->ca_file, (fs::path(dir_) / "ca.crt").string());
  EXPECT_EQ(config->ns, "redkube-system");

  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  EXPECT_EQ(InCluster(dir_)->server, "https://[fd00::1]:443");

  unsetenv("KUBERNETES_SERVICE_HOST");
  auto outside = InCluster(dir_);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().find("not in a cluster"), std::string::npos);
  unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_F(KubeConfigTest, LoadPrefersTheFlagThenKubeconfigEnv) {
  std::string flag = Write("flag", kYaml);
  std::string env = Write("env", R"(current-context: c
contexts: [{name: c, context: {cluster: k}}]
clusters: [{name: k, cluster: {server: "https://env:1"}}]
)");
  setenv("KUBECONFIG", (dir_ + "/absent:" + env).c_str(), 1);
  EXPECT_EQ(Load(flag, dir_)->server, "https://127.0.0.1:6443");
  EXPECT_EQ(Load("", dir_)->server, "https://env:1");  // the first existing entry
  unsetenv("KUBECONFIG");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_FALSE(Load("", dir_).ok());  // nothing else: in-cluster, which we are not
}

TEST(Base64Test, Decode) {
  EXPECT_EQ(Base64Decode("").value(), "");
  EXPECT_EQ(Base64Decode("Zg==").value(), "f");
  EXPECT_EQ(Base64Decode("Zm8=").value(), "fo");
  EXPECT_EQ(Base64Decode("Zm9v").value(), "foo");
  EXPECT_EQ(Base64Decode("Zm9vYg").value(), "foob");  // unpadded
  EXPECT_EQ(Base64Decode("Zm9v\nYmFy\n").value(), "foobar");
  EXPECT_EQ(Base64Decode("+/+/").value(), "\xfb\xff\xbf");
  EXPECT_FALSE(Base64Decode("Zm9vY").ok());  // 6 bits left over
  EXPECT_FALSE(Base64Decode("Zm=9v").ok());  // data after padding
  EXPECT_FALSE(Base64Decode("Zm9v*").ok());
}

TEST_F(KubeConfigTest, BearerTokenFileIsReReadWhenItChanges) {
  std::string path = Write("token", "first\n");
  BearerToken token("", path);
  EXPECT_EQ(token.Current().value(), "first");
  // A different size is a change even within the file clock's resolution.
  Write("token", "second-token\n");
  EXPECT_EQ(token.Current().value(), "second-token");
  // Replaced the way the kubelet does it (a new file renamed over the old).
  Write("token.new", "third-token!\n");
  fs::last_write_time(fs::path(dir_) / "token.new", fs::last_write_time(path) + std::chrono::seconds(5));
  fs::rename(fs::path(dir_) / "token.new", path);
  EXPECT_EQ(token.Current().value(), "third-token!");
  // Gone: the last good token is kept.
  fs::remove(path);
  EXPECT_EQ(token.Current().value(), "third-token!");

  EXPECT_EQ(BearerToken("fixed", "").Current().value(), "fixed");
  EXPECT_EQ(BearerToken("", "").Current().value(), "");
  EXPECT_FALSE(BearerToken("", (fs::path(dir_) / "none").string()).Current().ok());
}

}  // namespace
}  // namespace redkube::kube
