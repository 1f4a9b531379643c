#include "runtime/local/local_layout.h"

#include <gtest/gtest.h>

#include <set>

namespace redkube::runtime {
namespace {

TEST(LocalLayoutTest, DefaultsGiveTheDocumentedPorts) {
  auto layout = LocalLayout::Make(LocalClusterSpec{}, ".redkube");
  ASSERT_TRUE(layout.ok()) << layout.error();
  EXPECT_EQ(layout->ProxyPort(0), 6380);
  EXPECT_EQ(layout->ProxyPort(1), 6381);
  EXPECT_EQ(layout->EtcdClientPort(), 6390);
  EXPECT_EQ(layout->ConfigServerPort(1), 6401);
  EXPECT_EQ(layout->ServerPort(0, 0), 6480);
  EXPECT_EQ(layout->ServerPort(2, 1), 6501);
  EXPECT_EQ(layout->ClusterDir(), ".redkube/demo");
  EXPECT_EQ(layout->ServerDataDir(1, 0), ".redkube/demo/shard-1-0");
  EXPECT_EQ(layout->PasswordFile(), ".redkube/demo/password");
}

TEST(LocalLayoutTest, EveryPortIsDistinct) {
  LocalClusterSpec spec;
  spec.shards = 7;
  spec.replicas = 9;
  spec.proxies = 10;
  auto layout = LocalLayout::Make(spec, "/tmp/x/");
  ASSERT_TRUE(layout.ok()) << layout.error();
  auto ports = layout->AllPorts();
  EXPECT_EQ(ports.size(), 10u + 2u + 2u + 10u + 7u * 10u);
  EXPECT_EQ(std::set<int>(ports.begin(), ports.end()).size(), ports.size());
  EXPECT_EQ(layout->ClusterDir(), "/tmp/x/demo");
}

TEST(LocalLayoutTest, RefusesShapesThatDoNotFit) {
  auto with = [](auto edit) {
    LocalClusterSpec spec;
    edit(spec);
    return LocalLayout::Make(spec, ".");
  };
  EXPECT_NE(with([](auto& s) { s.name = "Bad_Name"; }).error().find("cluster name"), std::string::npos);
  EXPECT_NE(with([](auto& s) { s.shards = 0; }).error().find("--shards"), std::string::npos);
  EXPECT_NE(with([](auto& s) { s.replicas = 10; }).error().find("--replicas"), std::string::npos);
  EXPECT_NE(with([](auto& s) { s.proxies = 11; }).error().find("--proxies"), std::string::npos);
  EXPECT_NE(with([](auto& s) { s.port = 65450; }).error().find("--port"), std::string::npos);
  EXPECT_TRUE(with([](auto& s) { s.port = 65535 - 100 - 30; }).ok());
}

TEST(LocalLayoutTest, SpecRoundTripsThroughJson) {
  LocalClusterSpec spec{.name = "wide", .shards = 2, .replicas = 2, .proxies = 3, .port = 7000};
  auto back = LocalClusterSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->name, "wide");
  EXPECT_EQ(back->shards, 2);
  EXPECT_EQ(back->replicas, 2);
  EXPECT_EQ(back->proxies, 3);
  EXPECT_EQ(back->port, 7000);
  EXPECT_FALSE(LocalClusterSpec::FromJson("{\"name\": \"x\", \"shards\": \"2\"}").ok());
  EXPECT_FALSE(LocalClusterSpec::FromJson("not json").ok());
}

TEST(LocalLayoutTest, WithShardsKeepsEverythingElseAndRefusesWhatDoesNotFit) {
  LocalClusterSpec spec;
  spec.port = 65000;  // room above for (65535 - 65000 - 100) / 10 = 43 shards
  auto layout = LocalLayout::Make(spec, "/tmp/x");
  ASSERT_TRUE(layout.ok()) << layout.error();
  EXPECT_EQ(LocalLayout::MaxShards(65000), 43);
  EXPECT_EQ(LocalLayout::MaxShards(6380), LocalLayout::kMaxShards);
  auto grown = layout->WithShards(5);
  ASSERT_TRUE(grown.ok()) << grown.error();
  EXPECT_EQ(grown->spec().shards, 5);
  EXPECT_EQ(grown->ServerPort(4, 1), layout->ServerPort(4, 1));
  EXPECT_EQ(grown->ClusterDir(), layout->ClusterDir());
  EXPECT_EQ(grown->AllPorts().size(), layout->AllPorts().size() + 2u * 2u);
  EXPECT_TRUE(layout->WithShards(43).ok());
  auto too_many = layout->WithShards(44);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().find("between 1 and 43"), std::string::npos) << too_many.error();
  EXPECT_FALSE(layout->WithShards(0).ok());
}

}  // namespace
}  // namespace redkube::runtime
