// KubeClient and LeaseElector against a real kube-apiserver. Skipped unless
// KUBECONFIG_LIVE names a kubeconfig; tests/kube/kube_client_check.sh starts
// etcd + kube-apiserver on 127.0.0.1, writes the kubeconfigs (one YAML with
// base64 data, one JSON with file paths: KUBECONFIG_LIVE_FILES) and runs these.
// Each test works in its own fresh namespace.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "operator/kube/kube_client.h"
#include "operator/kube/lease_elector.h"

namespace redkube::kube {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

class KubeLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("KUBECONFIG_LIVE");
    if (path == nullptr || *path == '\0') {
      GTEST_SKIP() << "KUBECONFIG_LIVE is not set (tests/kube/kube_client_check.sh)";
    }
    auto config = FromKubeconfig(path);
    ASSERT_TRUE(config.ok()) << config.error();
    client_ = std::make_unique<KubeClient>(config.value());
    ASSERT_TRUE(client_->init_status().ok()) << client_->init_status().message();
    static int counter = 0;
    ns_ = "kube-live-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    auto created = client_->Create(resources::kNamespaces, "", {{"metadata", {{"name", ns_}}}});
    ASSERT_TRUE(created.ok()) << created.error();
  }
  void TearDown() override {
    if (client_ != nullptr && !ns_.empty()) {
      EXPECT_TRUE(client_->Delete(resources::kNamespaces, "", ns_).ok());
    }
  }

  static json ConfigMap(const std::string& value, const std::string& label) {
    return {{"metadata", {{"labels", {{"kube-live", label}}}}}, {"data", {{"a", value}}}};
  }
  static std::string Rv(const json& object) {
    return object["metadata"]["resourceVersion"].get<std::string>();
  }

  std::unique_ptr<KubeClient> client_;
  std::string ns_;
};

TEST_F(KubeLiveTest, ApplyTwiceIsANoOpAndGetReadsIt) {
  auto first = client_->Apply(resources::kConfigMaps, ns_, "cm", ConfigMap("1", "yes"));
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = client_->Apply(resources::kConfigMaps, ns_, "cm", ConfigMap("1", "yes"));
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(Rv(first.value()), Rv(second.value()));  // nothing changed, nothing written
  EXPECT_EQ(second.value()["metadata"]["managedFields"][0]["manager"], kFieldManager);

  auto got = client_->Get(resources::kConfigMaps, ns_, "cm");
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got.value()["data"]["a"], "1");
  EXPECT_EQ(Rv(got.value()), Rv(first.value()));

  auto changed = client_->Apply(resources::kConfigMaps, ns_, "cm", ConfigMap("2", "yes"));
  ASSERT_TRUE(changed.ok()) << changed.error();
  EXPECT_NE(Rv(changed.value()), Rv(first.value()));
  EXPECT_EQ(changed.value()["data"]["a"], "2");
}

TEST_F(KubeLiveTest, ListWithALabelSelector) {
  ASSERT_TRUE(client_->Apply(resources::kConfigMaps, ns_, "picked", ConfigMap("1", "yes")).ok());
  ASSERT_TRUE(client_->Apply(resources::kConfigMaps, ns_, "other", ConfigMap("1", "no")).ok());
  auto list = client_->List(resources::kConfigMaps, ns_, "kube-live=yes");
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0]["metadata"]["name"], "picked");
  EXPECT_FALSE(list->resource_version.empty());
  auto both = client_->List(resources::kConfigMaps, ns_, "kube-live in (yes,no)");
  ASSERT_TRUE(both.ok()) << both.error();
  EXPECT_EQ(both->items.size(), 2u);
}

TEST_F(KubeLiveTest, WatchSeesAMergePatch) {
  ASSERT_TRUE(client_->Apply(resources::kConfigMaps, ns_, "watched", ConfigMap("1", "yes")).ok());
  auto list = client_->List(resources::kConfigMaps, ns_, "kube-live=yes");
  ASSERT_TRUE(list.ok()) << list.error();

  std::atomic<bool> saw_modified{false};
  Status watch_status = Status::Ok();
  std::thread watcher([&] {
    watch_status = client_->Watch(
        resources::kConfigMaps, ns_, list->resource_version, "kube-live=yes",
        [&](const WatchEvent& event) {
          if (event.type == WatchEventType::kModified && event.object["data"]["a"] == "2") {
            saw_modified = true;
            return false;
          }
          return true;
        },
        /*timeout_s=*/15);
  });
  auto patched = client_->MergePatch(resources::kConfigMaps, ns_, "watched", {{"data", {{"a", "2"}}}});
  ASSERT_TRUE(patched.ok()) << patched.error();
  watcher.join();  // bounded: on_event stops it, or timeoutSeconds does
  EXPECT_TRUE(watch_status.ok()) << watch_status.message();
  EXPECT_TRUE(saw_modified);
}

TEST_F(KubeLiveTest, WatchFromAnOldVersionIsGoneOrWorks) {
  // Resource version 1 is long compacted away in the watch cache's window:
  // the server answers 410 (the caller re-lists), or serves it.
  int events = 0;
  Status status = client_->Watch(
      resources::kConfigMaps, ns_, "1", "",
      [&](const WatchEvent&) {
        ++events;
        return false;
      },
      /*timeout_s=*/2);
  if (!status.ok()) {
    EXPECT_EQ(status.code(), 410) << status.message();
    std::printf("watch from resourceVersion 1: %s\n", status.message().c_str());
  } else {
    std::printf("watch from resourceVersion 1: served (%d events)\n", events);
  }
}

TEST_F(KubeLiveTest, CreateReplaceDeleteAndConflicts) {
  auto created =
      client_->Create(resources::kConfigMaps, ns_, {{"metadata", {{"name", "c"}}}, {"data", {{"a", "1"}}}});
  ASSERT_TRUE(created.ok()) << created.error();
  auto again = client_->Create(resources::kConfigMaps, ns_, {{"metadata", {{"name", "c"}}}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), 409);
  EXPECT_NE(again.error().find("AlreadyExists"), std::string::npos) << again.error();

  json updated = created.value();
  updated["data"]["a"] = "2";
  auto replaced = client_->Replace(resources::kConfigMaps, ns_, "c", updated);
  ASSERT_TRUE(replaced.ok()) << replaced.error();
  // The same stale resourceVersion once more: compare-and-swap refuses it.
  auto stale = client_->Replace(resources::kConfigMaps, ns_, "c", updated);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), 409);

  auto invalid = client_->Create(resources::kConfigMaps, ns_, {{"metadata", {{"name", "Not_A_Name"}}}});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code(), 422);

  EXPECT_TRUE(client_->Delete(resources::kConfigMaps, ns_, "c").ok());
  auto gone = client_->Get(resources::kConfigMaps, ns_, "c");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), 404);
  EXPECT_TRUE(client_->Delete(resources::kConfigMaps, ns_, "c").ok());  // already gone: fine
}

TEST_F(KubeLiveTest, CreateEventAboutAnObject) {
  auto cm = client_->Apply(resources::kConfigMaps, ns_, "evented", ConfigMap("1", "yes"));
  ASSERT_TRUE(cm.ok()) << cm.error();
  Status created = client_->CreateEvent(cm.value(), "Warning", "LiveTest", "something to see");
  ASSERT_TRUE(created.ok()) << created.message();
  auto events = client_->List(resources::kEvents, ns_, "", "involvedObject.name=evented");
  ASSERT_TRUE(events.ok()) << events.error();
  ASSERT_EQ(events->items.size(), 1u);
  const json& event = events->items[0];
  EXPECT_EQ(event["reason"], "LiveTest");
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["message"], "something to see");
  EXPECT_EQ(event["involvedObject"]["kind"], "ConfigMap");
  EXPECT_EQ(event["involvedObject"]["uid"], cm.value()["metadata"]["uid"]);
  EXPECT_EQ(event["source"]["component"], "redkube-operator");
}

TEST_F(KubeLiveTest, BothKubeconfigFormsAuthenticate) {
  const char* files = std::getenv("KUBECONFIG_LIVE_FILES");
  if (files == nullptr || *files == '\0') {
    GTEST_SKIP() << "KUBECONFIG_LIVE_FILES is not set";
  }
  auto config = FromKubeconfig(files);
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_FALSE(config->ca_file.empty());
  EXPECT_FALSE(config->client_cert_file.empty());
  KubeClient by_files(config.value());
  auto ns = by_files.Get(resources::kNamespaces, "", ns_);
  ASSERT_TRUE(ns.ok()) << ns.error();
  // A client with no credentials is anonymous: the server says who refused.
  KubeConfig anonymous = config.value();
  anonymous.client_cert_file.clear();
  anonymous.client_key_file.clear();
  auto refused = KubeClient(anonymous).Get(resources::kNamespaces, "", ns_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().code() == 401 || refused.status().code() == 403) << refused.error();
  // The wrong CA: TLS verification fails, no HTTP code.
  KubeConfig wrong_ca = config.value();
  wrong_ca.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  auto untrusted = KubeClient(wrong_ca).Get(resources::kNamespaces, "", ns_);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().code(), 0) << untrusted.error();
}

TEST_F(KubeLiveTest, ConcurrentCallsFromManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string name = "conc-" + std::to_string(t) + "-" + std::to_string(i % 3);
        if (!client_->Apply(resources::kConfigMaps, ns_, name, ConfigMap(std::to_string(i), "c")).ok())
          ++failures;
        if (!client_->Get(resources::kConfigMaps, ns_, name).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto list = client_->List(resources::kConfigMaps, ns_, "kube-live=c");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 12u);
}

TEST_F(KubeLiveTest, ExactlyOneLeaderAndAHandOverOnStop) {
  constexpr auto kLease = std::chrono::seconds(3);
  LeaseElector a(client_.get(), ns_, "redkube-operator", "contender-a", kLease);
  LeaseElector b(client_.get(), ns_, "redkube-operator", "contender-b", kLease);
  a.Start();
  b.Start();
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!a.IsLeader() && !b.IsLeader() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(a.IsLeader() || b.IsLeader()) << a.last_error().message() << " / " << b.last_error().message();
  // Across several renewal periods, never both.
  auto watch_until = steady_clock::now() + 2 * kLease;
  int samples = 0;
  while (steady_clock::now() < watch_until) {
    ASSERT_FALSE(a.IsLeader() && b.IsLeader());
    ASSERT_TRUE(a.IsLeader() || b.IsLeader());  // renewals keep it
    ++samples;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(samples, 10);
  LeaseElector& leader = a.IsLeader() ? a : b;
  LeaseElector& standby = a.IsLeader() ? b : a;
  auto lease = client_->Get(resources::kLeases, ns_, "redkube-operator");
  ASSERT_TRUE(lease.ok()) << lease.error();
  EXPECT_EQ(lease.value()["spec"]["holderIdentity"], leader.identity());
  EXPECT_EQ(lease.value()["spec"]["leaseDurationSeconds"], 3);

  leader.Stop();
  EXPECT_FALSE(leader.IsLeader());
  auto stopped_at = steady_clock::now();
  deadline = stopped_at + kLease;
  while (!standby.IsLeader() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto took = steady_clock::now() - stopped_at;
  ASSERT_TRUE(standby.IsLeader()) << "no takeover within the lease duration";
  std::printf("takeover %lld ms after Stop() of the leader\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  lease = client_->Get(resources::kLeases, ns_, "redkube-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease.value()["spec"]["holderIdentity"], standby.identity());
  EXPECT_GE(lease.value()["spec"]["leaseTransitions"].get<int>(), 1);
  standby.Stop();
}

TEST_F(KubeLiveTest, AnElectorThatCannotRenewStopsLeading) {
  // The lease is taken from under the leader (as an operator on the far side of
  // a partition would after expiry): it must notice at its next renewal.
  LeaseElector a(client_.get(), ns_, "l", "contender-a", std::chrono::seconds(3));
  a.Start();
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (!a.IsLeader() && steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(a.IsLeader());
  auto lease = client_->Get(resources::kLeases, ns_, "l");
  ASSERT_TRUE(lease.ok());
  json taken = lease.value();
  taken["spec"]["holderIdentity"] = "intruder";
  taken["spec"]["leaseDurationSeconds"] = 60;
  // Retried: a renewal may have moved the resourceVersion in between.
  bool replaced = false;
  for (int attempt = 0; attempt < 5 && !replaced; ++attempt) {
    auto r = client_->Replace(resources::kLeases, ns_, "l", taken);
    replaced = r.ok();
    if (!replaced) {
      auto fresh = client_->Get(resources::kLeases, ns_, "l");
      ASSERT_TRUE(fresh.ok());
      taken["metadata"]["resourceVersion"] = fresh.value()["metadata"]["resourceVersion"];
    }
  }
  ASSERT_TRUE(replaced);
  deadline = steady_clock::now() + std::chrono::seconds(3);
  while (a.IsLeader() && steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(a.IsLeader());
  a.Stop();
  // Stop() of a non-leader leaves the intruder's claim alone.
  auto after = client_->Get(resources::kLeases, ns_, "l");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value()["spec"]["holderIdentity"], "intruder");
}

}  // namespace
}  // namespace redkube::kube
