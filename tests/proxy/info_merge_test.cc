#include "proxy/info_merge.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "proxy/reply_merger.h"

namespace redkube::proxy {
namespace {

// field -> value of every "name:value" line of `text`, and the section titles.
std::map<std::string, std::string> Fields(const std::string& text,
                                          std::vector<std::string>* titles = nullptr) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 2;
    if (line.starts_with("# ")) {
      if (titles) titles->push_back(line.substr(2));
    } else if (auto colon = line.find(':'); colon != std::string::npos) {
      out[line.substr(0, colon)] = line.substr(colon + 1);
    }
  }
  return out;
}

std::vector<std::string> Titles(const InfoSelection& s, std::string_view own = "") {
  std::vector<std::string> titles;
  Fields(MergeInfo(s, own, {}), &titles);
  return titles;
}

InfoSelection Args(std::vector<std::string_view> args) { return InfoSelection(args); }

const char kShard0[] =
    "# Server\r\nredis_version:7.0.15\r\nprocess_id:11\r\ntcp_port:7001\r\nrun_id:abc\r\n\r\n"
    "# Clients\r\nconnected_clients:4\r\nblocked_clients:1\r\nclient_recent_max_input_buffer:20\r\n\r\n"
    "# "
    "Memory\r\nused_memory:1000\r\nused_memory_human:1000B\r\nused_memory_rss:3000\r\nused_memory_peak:"
    "2000\r\n"
    "used_memory_peak_perc:50.00%\r\nmem_fragmentation_ratio:3.00\r\nmaxmemory_policy:noeviction\r\n\r\n"
    "# Persistence\r\nloading:0\r\nrdb_last_save_time:200\r\nrdb_last_bgsave_status:ok\r\n\r\n"
    "# Stats\r\ntotal_commands_processed:10\r\nkeyspace_hits:3\r\ninstantaneous_input_kbps:0.25\r\n"
    "total_connections_received:99\r\n\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=10.0.0.1,port=7,state=online\r\n\r\n"
    "# Errorstats\r\nerrorstat_ERR:count=2\r\n\r\n"
    "# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\n";
const char kShard1[] =
    "# Server\r\nredis_version:7.0.16\r\nprocess_id:12\r\ntcp_port:7002\r\nrun_id:def\r\n\r\n"
    "# Clients\r\nconnected_clients:5\r\nblocked_clients:2\r\nclient_recent_max_input_buffer:8\r\n\r\n"
    "# "
    "Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:1000\r\nused_memory_peak:"
    "2000000\r\n"
    "used_memory_peak_perc:52.43%\r\nmem_fragmentation_ratio:0.00\r\nmaxmemory_policy:allkeys-lru\r\n\r\n"
    "# Persistence\r\nloading:1\r\nrdb_last_save_time:100\r\nrdb_last_bgsave_status:err\r\n\r\n"
    "# Stats\r\ntotal_commands_processed:32\r\nkeyspace_hits:4\r\ninstantaneous_input_kbps:1.5\r\n"
    "total_connections_received:7\r\n\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=7,state=online\r\n\r\n"
    "# Errorstats\r\nerrorstat_ERR:count=3\r\nerrorstat_WRONGTYPE:count=1\r\n\r\n"
    "# Keyspace\r\ndb0:keys=5,expires=6,avg_ttl=300\r\n";
const char kOwn[] =
    "# Proxy\r\nproxy_id:p1\r\n# Server\r\nprocess_id:77\r\ntcp_port:6380\r\nconfig_file:\r\n"
    "# Clients\r\nconnected_clients:3\r\n# Stats\r\ntotal_connections_received:40\r\n"
    "# Replication\r\nrole:master\r\n# CPU\r\nused_cpu_sys:0.500000\r\n# Cluster\r\ncluster_enabled:1\r\n";

std::map<std::string, std::string> Merged(std::vector<std::string_view> args = {"everything"}) {
  std::vector<std::string_view> shards = {kShard0, kShard1};
  return Fields(MergeInfo(Args(args), kOwn, shards));
}

TEST(InfoSelection, DefaultHasRedisDefaultsAndTheProxySection) {
  EXPECT_EQ(Titles(InfoSelection()),
            (std::vector<std::string>{"Proxy", "Server", "Clients", "Memory", "Persistence", "Stats",
                                      "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"}));
  EXPECT_EQ(Titles(Args({"default"})), Titles(InfoSelection()));
}

TEST(InfoSelection, AllAndEverythingAddCommandstatsAndLatencystats) {
  const std::vector<std::string> all = {"Proxy",      "Server",       "Clients", "Memory",  "Persistence",
                                        "Stats",      "Replication",  "CPU",     "Modules", "Commandstats",
                                        "Errorstats", "Latencystats", "Cluster", "Keyspace"};
  EXPECT_EQ(Titles(Args({"all"})), all);
  EXPECT_EQ(Titles(Args({"EVERYTHING"})), all);
}

TEST(InfoSelection, NamedSectionsAnyCaseInRedisOrder) {
  EXPECT_EQ(Titles(Args({"KEYSPACE", "cpu"})), (std::vector<std::string>{"CPU", "Keyspace"}));
  EXPECT_EQ(Titles(Args({"module_list"})), (std::vector<std::string>{"Modules"}));
  EXPECT_EQ(Titles(Args({"commandstats", "default"})).size(), 13u);
  EXPECT_TRUE(Titles(Args({"nosuchsection"})).empty());
  EXPECT_EQ(Titles(Args({"proxy"})), (std::vector<std::string>{"Proxy"}));
}

TEST(InfoSelection, ServersAreAskedOnlyForTheirSections) {
  EXPECT_TRUE(Args({"cpu", "commandstats", "proxy"}).ServerSections().empty());
  EXPECT_EQ(Args({"memory", "cpu"}).ServerSections(), (std::vector<std::string_view>{"memory"}));
  EXPECT_EQ(Args({"all"}).ServerSections().size(), 9u);
}

TEST(InfoMerge, SumsAdditiveFields) {
  auto f = Merged();
  EXPECT_EQ(f["used_memory"], "1049576");
  EXPECT_EQ(f["total_commands_processed"], "42");
  EXPECT_EQ(f["keyspace_hits"], "7");
  EXPECT_EQ(f["blocked_clients"], "3");
  EXPECT_EQ(f["connected_slaves"], "3");
  EXPECT_EQ(f["instantaneous_input_kbps"], "1.75");
}

TEST(InfoMerge, HumanFieldsAndRatiosAreRecomputedFromTheSums) {
  auto f = Merged();
  EXPECT_EQ(f["used_memory_human"], "1.00M");       // 1049576 bytes
  EXPECT_EQ(f["mem_fragmentation_ratio"], "0.00");  // 4000 / 1049576
  EXPECT_EQ(f["used_memory_peak_perc"], "52.43%");  // 1049576 / 2002000
  EXPECT_EQ(BytesToHuman(1023), "1023B");
  EXPECT_EQ(BytesToHuman(941048), "918.99K");
  EXPECT_EQ(BytesToHuman(25324732416ull), "23.59G");
}

TEST(InfoMerge, MaxMinAllOkAndFirst) {
  auto f = Merged();
  EXPECT_EQ(f["loading"], "1");
  EXPECT_EQ(f["client_recent_max_input_buffer"], "20");
  EXPECT_EQ(f["rdb_last_save_time"], "100");
  EXPECT_EQ(f["rdb_last_bgsave_status"], "err");
  EXPECT_EQ(f["redis_version"], "7.0.15");
  EXPECT_EQ(f["maxmemory_policy"], "noeviction");
  EXPECT_EQ(f["run_id"], "abc");  // not in the table: the first shard's
}

TEST(InfoMerge, TheProxysOwnFieldsWin) {
  auto f = Merged();
  EXPECT_EQ(f["process_id"], "77");
  EXPECT_EQ(f["tcp_port"], "6380");
  EXPECT_EQ(f["connected_clients"], "3");
  EXPECT_EQ(f["total_connections_received"], "40");
  EXPECT_EQ(f["config_file"], "");
  EXPECT_EQ(f["used_cpu_sys"], "0.500000");
  EXPECT_EQ(f["cluster_enabled"], "1");
  EXPECT_EQ(f["proxy_id"], "p1");
}

TEST(InfoMerge, PerServerLinesAreDroppedAndSubfieldsSummed) {
  auto f = Merged();
  EXPECT_FALSE(f.count("slave0"));
  EXPECT_EQ(f["errorstat_ERR"], "count=5");
  EXPECT_EQ(f["errorstat_WRONGTYPE"], "count=1");
  // avg_ttl: the mean weighted by expires, (100*2 + 300*6) / 8.
  EXPECT_EQ(f["db0"], "keys=15,expires=8,avg_ttl=250");
}

TEST(InfoMerge, LayoutIsRedisServers) {
  std::vector<std::string_view> shards = {kShard0, kShard1};
  std::string text = MergeInfo(Args({"server", "keyspace"}), kOwn, shards);
  EXPECT_TRUE(text.starts_with("# Server\r\nredis_version:7.0.15\r\n")) << text;
  EXPECT_NE(text.find("\r\n\r\n# Keyspace\r\ndb0:"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("avg_ttl=250\r\n")) << text;
  EXPECT_EQ(MergeInfo(Args({"modules"}), kOwn, shards), "# Modules\r\n");
}

TEST(InfoMerge, RulesTable) {
  EXPECT_EQ(InfoRuleFor("memory", "used_memory"), InfoRule::kSum);
  EXPECT_EQ(InfoRuleFor("memory", "maxmemory_human"), InfoRule::kHuman);
  EXPECT_EQ(InfoRuleFor("persistence", "aof_last_write_status"), InfoRule::kAllOk);
  EXPECT_EQ(InfoRuleFor("server", "uptime_in_seconds"), InfoRule::kProxy);
  EXPECT_EQ(InfoRuleFor("server", "redis_version"), InfoRule::kFirst);
  EXPECT_EQ(InfoRuleFor("replication", "slave12"), InfoRule::kDrop);
  EXPECT_EQ(InfoRuleFor("replication", "slave_read_only"), InfoRule::kFirst);
  EXPECT_EQ(InfoRuleFor("cpu", "used_cpu_user"), InfoRule::kProxy);
}

TEST(InfoMerge, MalformedTextsDoNotCrash) {
  std::vector<std::string_view> shards = {"garbage\r\nno colon", "", "# Memory\r\nused_memory:abc\r\n:\r\n",
                                          "# Memory\r\nused_memory:5\r\n"};
  auto f = Fields(MergeInfo(Args({"memory"}), "", shards));
  EXPECT_EQ(f["used_memory"], "abc");  // not a number: the first shard's
}

TEST(InfoMerge, TheMergerTakesBulkAndVerbatimReplies) {
  ReplyMerger m;
  m.Reset(ReplyMerger::Kind::kInfo, 2);
  std::vector<std::string_view> args = {"keyspace"};
  m.info_selection = InfoSelection(args);
  const std::string text = "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n";
  m.SetPart(0, "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n");
  m.SetPart(1, "=" + std::to_string(text.size() + 4) + "\r\ntxt:" + text + "\r\n");
  std::string out;
  m.Finish(&out);
  // A verbatim part comes from a RESP3 server connection, which only a
  // RESP3 client's request uses: the result is verbatim too (RESP3, as
  // redis-server answers INFO to such a client).
  EXPECT_EQ(out, "=48\r\ntxt:# Keyspace\r\ndb0:keys=4,expires=0,avg_ttl=0\r\n\r\n");
}

}  // namespace
}  // namespace redkube::proxy
