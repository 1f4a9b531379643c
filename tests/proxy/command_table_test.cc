#include "proxy/command_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace redkube::proxy {
namespace {

// Splits "SET k v" into argv views over `storage`.
std::vector<std::string_view> Argv(const std::vector<std::string>& storage) {
  return std::vector<std::string_view>(storage.begin(), storage.end());
}

// The argv indexes ExtractKeys finds, or {-1} if it reports kMalformed.
std::vector<int> Keys(const std::vector<std::string>& words) {
  auto argv = Argv(words);
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  EXPECT_NE(spec, nullptr) << words[0];
  if (spec == nullptr) return {-2};
  std::vector<uint32_t> keys;
  if (ExtractKeys(*spec, argv, &keys) == KeyExtraction::kMalformed) return {-1};
  return std::vector<int>(keys.begin(), keys.end());
}

TEST(CommandTableTest, CoversEveryRedis70Command) {
  // redis-server 7.0's COMMAND COUNT.
  EXPECT_EQ(CommandTable::Instance().commands().size(), 240u);
  for (const char* name : {"get", "set", "xreadgroup", "zunionstore", "georadius", "eval", "fcall", "blmpop",
                           "lcs", "object", "config", "client"}) {
    EXPECT_NE(CommandTable::Instance().Find(name), nullptr) << name;
  }
}

TEST(CommandTableTest, LookupIsCaseInsensitive) {
  const CommandSpec* get = CommandTable::Instance().Find("GeT");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(get->arity, 2);
  EXPECT_TRUE(get->Has(kFlagReadonly));
  EXPECT_TRUE(get->Has(kFlagFast));
  EXPECT_FALSE(get->Has(kFlagWrite));
  EXPECT_EQ(CommandTable::Instance().Find("nosuchcommand"), nullptr);
  EXPECT_EQ(CommandTable::Instance().Find(std::string(200, 'a')), nullptr);
}

TEST(CommandTableTest, ResolvesSubcommands) {
  std::vector<std::string> words{"OBJECT", "encoding", "k"};
  auto argv = Argv(words);
  const CommandSpec* spec = CommandTable::Instance().Resolve(argv);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, "object|encoding");
  EXPECT_EQ(Keys(words), std::vector<int>{2});

  std::vector<std::string> unknown_sub{"OBJECT", "nope"};
  auto argv2 = Argv(unknown_sub);
  spec = CommandTable::Instance().Resolve(argv2);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, "object");
  EXPECT_TRUE(spec->IsContainer());
}

TEST(CommandTableTest, Arity) {
  const CommandSpec* get = CommandTable::Instance().Find("get");
  EXPECT_TRUE(ArityOk(*get, 2));
  EXPECT_FALSE(ArityOk(*get, 1));
  EXPECT_FALSE(ArityOk(*get, 3));
  const CommandSpec* mset = CommandTable::Instance().Find("mset");
  EXPECT_FALSE(ArityOk(*mset, 2));
  EXPECT_TRUE(ArityOk(*mset, 3));
  EXPECT_TRUE(ArityOk(*mset, 7));
}

TEST(CommandTableTest, RangeKeySpecs) {
  EXPECT_EQ(Keys({"GET", "a"}), (std::vector<int>{1}));
  EXPECT_EQ(Keys({"SET", "a", "v", "EX", "10"}), (std::vector<int>{1}));
  EXPECT_EQ(Keys({"MGET", "a", "b", "c"}), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(Keys({"MSET", "a", "1", "b", "2"}), (std::vector<int>{1, 3}));
  EXPECT_EQ(Keys({"RENAME", "a", "b"}), (std::vector<int>{1, 2}));
  EXPECT_EQ(Keys({"BLPOP", "a", "b", "0"}), (std::vector<int>{1, 2}));
  EXPECT_EQ(Keys({"LMOVE", "a", "b", "LEFT", "RIGHT"}), (std::vector<int>{1, 2}));
}

TEST(CommandTableTest, KeynumKeySpecs) {
  EXPECT_EQ(Keys({"EVAL", "return 1", "2", "a", "b", "x"}), (std::vector<int>{3, 4}));
  EXPECT_EQ(Keys({"EVAL", "return 1", "0"}), (std::vector<int>{}));
  EXPECT_EQ(Keys({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}), (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(Keys({"LMPOP", "2", "a", "b", "LEFT"}), (std::vector<int>{2, 3}));
  EXPECT_EQ(Keys({"FCALL", "f", "1", "a"}), (std::vector<int>{3}));
}

TEST(CommandTableTest, KeywordKeySpecs) {
  EXPECT_EQ(Keys({"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}), (std::vector<int>{4, 5}));
  EXPECT_EQ(Keys({"XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "0"}), (std::vector<int>{5}));
  EXPECT_EQ(Keys({"GEORADIUS", "src", "0", "0", "1", "km", "STORE", "dst"}), (std::vector<int>{1, 7}));
}

TEST(CommandTableTest, SortStoreSpecialCase) {
  EXPECT_EQ(Keys({"SORT", "a"}), (std::vector<int>{1}));
  EXPECT_EQ(Keys({"SORT", "a", "LIMIT", "0", "10", "STORE", "d"}), (std::vector<int>{1, 6}));
  // "store" as a GET pattern is not the STORE option.
  EXPECT_EQ(Keys({"SORT", "a", "GET", "store", "STORE", "d"}), (std::vector<int>{1, 5}));
}

TEST(CommandTableTest, MalformedArgumentsAreReported) {
  EXPECT_EQ(Keys({"EVAL", "return 1", "5", "a"}), (std::vector<int>{-1}));
  EXPECT_EQ(Keys({"EVAL", "return 1", "x", "a"}), (std::vector<int>{-1}));
  EXPECT_EQ(Keys({"EVAL", "return 1", "-1"}), (std::vector<int>{-1}));
  EXPECT_EQ(Keys({"ZUNIONSTORE", "d", "99999999999999999999", "a"}), (std::vector<int>{-1}));
}

TEST(CommandTableTest, KeylessCommandsHaveNoKeySpecs) {
  for (const char* name : {"ping", "dbsize", "flushall", "info", "time"}) {
    const CommandSpec* spec = CommandTable::Instance().Find(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_TRUE(spec->key_specs.empty()) << name;
  }
}

}  // namespace
}  // namespace redkube::proxy
