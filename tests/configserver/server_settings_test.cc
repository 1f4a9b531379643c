#include "configserver/server_settings.h"

#include <gtest/gtest.h>

#include "configserver/cluster_record.h"

namespace redkube::configserver {
namespace {

TEST(ServerSettings, MergedOverEarlierOnesAndVersioned) {
  ClusterRecord r = NewCluster("demo", 1);
  EXPECT_EQ(r.settings_version, 0u);
  EXPECT_TRUE(MergeServerSettings(&r, {{"maxmemory-policy", "allkeys-lru"}, {"timeout", "5"}}));
  EXPECT_EQ(r.settings_version, 1u);
  // The same values again: nothing changes, the version stays.
  EXPECT_FALSE(MergeServerSettings(&r, {{"timeout", "5"}}));
  EXPECT_EQ(r.settings_version, 1u);
  EXPECT_TRUE(MergeServerSettings(&r, {{"timeout", "7"}, {"notify-keyspace-events", "Ex"}}));
  EXPECT_EQ(r.settings_version, 2u);
  ServerSettingsMap want = {
      {"maxmemory-policy", "allkeys-lru"}, {"notify-keyspace-events", "Ex"}, {"timeout", "7"}};
  EXPECT_EQ(r.server_settings, want);
}

TEST(ServerSettings, KeptThroughTheRecordsJson) {
  ClusterRecord r = NewCluster("demo", 1);
  MergeServerSettings(&r, {{"notify-keyspace-events", "KEA"}});
  auto back = ClusterRecord::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->server_settings, r.server_settings);
  EXPECT_EQ(back->settings_version, 1u);
  // A record written before settings existed reads as none.
  auto old = ClusterRecord::FromJson(NewCluster("demo", 1).ToJson());
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->server_settings.empty());
}

TEST(ServerSettings, RequestsAreCheckedAndLowered) {
  auto ok = ValidServerSettings({{"MaxMemory-Policy", "allkeys-lru"}});
  ASSERT_TRUE(std::holds_alternative<ServerSettingsMap>(ok));
  EXPECT_EQ(std::get<ServerSettingsMap>(ok).begin()->first, "maxmemory-policy");
  auto refused = ValidServerSettings({{"dir", "/tmp"}});
  ASSERT_TRUE(std::holds_alternative<StoreError>(refused));
  EXPECT_EQ(std::get<StoreError>(refused).code, 400);
  EXPECT_NE(std::get<StoreError>(refused).message.find("not allowed"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<StoreError>(ValidServerSettings({})));
  EXPECT_TRUE(std::holds_alternative<StoreError>(ValidServerSettings({{"max*", "1"}})));
  // Two spellings of one name.
  EXPECT_TRUE(std::holds_alternative<StoreError>(ValidServerSettings({{"timeout", "1"}, {"TIMEOUT", "2"}})));
}

}  // namespace
}  // namespace redkube::configserver
