#include "core/strings.h"

#include <gtest/gtest.h>

#include <string>

namespace redkube {
namespace {

TEST(EqualsIgnoreCaseTest, IgnoresAsciiCaseOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("GET", "get"));
  EXPECT_TRUE(EqualsIgnoreCase("SetName", "SETNAME"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_TRUE(EqualsIgnoreCase("a-1_z", "A-1_Z"));
  EXPECT_FALSE(EqualsIgnoreCase("get", "gets"));
  EXPECT_FALSE(EqualsIgnoreCase("get", "set"));
  EXPECT_FALSE(EqualsIgnoreCase("", "x"));
  // '@' and '`' sit next to 'A' and 'a' but are not letters.
  EXPECT_FALSE(EqualsIgnoreCase("@", "`"));
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));
  // Bytes above ASCII compare exactly (no locale folding).
  EXPECT_TRUE(EqualsIgnoreCase("\xc3\xa9", "\xc3\xa9"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc3\xa9", "\xc3\x89"));
}

TEST(EqualsIgnoreCaseTest, ComparesEmbeddedNulBytes) {
  EXPECT_TRUE(EqualsIgnoreCase(std::string_view("a\0b", 3), std::string_view("A\0B", 3)));
  EXPECT_FALSE(EqualsIgnoreCase(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(ParseInt64Test, ReadsWholeDecimals) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("7"), 7);
  EXPECT_EQ(ParseInt64("-7"), -7);
  EXPECT_EQ(ParseInt64("1234567890"), 1234567890);
  EXPECT_EQ(ParseInt64("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseInt64("-9223372036854775808"), INT64_MIN);
}

TEST(ParseInt64Test, RefusesWhatRedisRefuses) {
  for (const char* text : {"", "-", "+1", " 1", "1 ", "01", "00", "-0", "-01", "1.0", "1e3", "0x10", "12abc",
                           "abc", "--1", "1-", "\t1"}) {
    EXPECT_EQ(ParseInt64(text), std::nullopt) << '"' << text << '"';
  }
  EXPECT_EQ(ParseInt64(std::string_view("1\0", 2)), std::nullopt);
}

TEST(ParseInt64Test, RefusesOverflow) {
  EXPECT_EQ(ParseInt64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(ParseInt64("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(ParseInt64("18446744073709551615"), std::nullopt);
  EXPECT_EQ(ParseInt64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseInt64("99999999999999999999999999"), std::nullopt);
}

TEST(ParseInt64Test, ReadsOnlyTheViewItIsGiven) {
  std::string_view digits = std::string_view("12345").substr(0, 3);
  EXPECT_EQ(ParseInt64(digits), 123);
}

}  // namespace
}  // namespace redkube
