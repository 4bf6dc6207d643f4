#include "runtime/user.hpp"

#include <gtest/gtest.h>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

namespace {
const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "broken line\n";
const std::string kGroup =
    "root:x:0:\n"
    "wheel:x:10:root,alice\n"
    "audio:x:29:alice\n"
    "nogroup:x:65534:\n"
    "alice:x:1000:\n"
    "staff:x:50:\n";
}  // namespace

TEST(User, NamesFromTheImage) {
  const auto nobody = resolve_user("nobody", kPasswd, kGroup);
  EXPECT_EQ(nobody.uid, 65534u);
  EXPECT_EQ(nobody.gid, 65534u);
  EXPECT_TRUE(nobody.groups.empty());
  EXPECT_EQ(nobody.home, "/nonexistent");
  const auto alice = resolve_user("alice", kPasswd, kGroup);
  EXPECT_EQ(alice.uid, 1000u);
  EXPECT_EQ(alice.groups, (std::vector<gid_t>{10, 29}));
  const auto root = resolve_user("0", kPasswd, kGroup);
  EXPECT_EQ(root.uid, 0u);
  EXPECT_EQ(root.groups, (std::vector<gid_t>{10}));
}

TEST(User, NumbersNeedNoEntry) {
  const auto u = resolve_user("1234", kPasswd, kGroup);
  EXPECT_EQ(u.uid, 1234u);
  EXPECT_EQ(u.gid, 0u);  // as Docker
  const auto ug = resolve_user("1000:1000", kPasswd, kGroup);
  EXPECT_EQ(ug.uid, 1000u);
  EXPECT_EQ(ug.gid, 1000u);
  const auto named_group = resolve_user("1234:staff", kPasswd, kGroup);
  EXPECT_EQ(named_group.gid, 50u);
  const auto empty_files = resolve_user("5:6", "", "");
  EXPECT_EQ(empty_files.uid, 5u);
  EXPECT_EQ(empty_files.gid, 6u);
}

TEST(User, UnknownNamesAreErrors) {
  EXPECT_THROW(resolve_user("mallory", kPasswd, kGroup), UsageError);
  EXPECT_THROW(resolve_user("alice:nosuchgroup", kPasswd, kGroup), UsageError);
  EXPECT_THROW(resolve_user("", kPasswd, kGroup), UsageError);
}

TEST(User, GroupAdd) {
  auto u = resolve_user("nobody", kPasswd, kGroup);
  add_groups(u, {"audio", "4242", "staff", "audio"}, kGroup);
  EXPECT_EQ(u.groups, (std::vector<gid_t>{29, 4242, 50}));
  EXPECT_THROW(add_groups(u, {"nosuchgroup"}, kGroup), UsageError);
}

// CVE-2016-3697: a user *named* "1" with uid 0 in a hostile image.
TEST(User, DigitsAreAlwaysAnIdNeverAName) {
  const std::string passwd = kPasswd + "1:x:0:0::/:/bin/sh\n";
  const std::string group = kGroup + "7:x:0:\n";
  const auto u = resolve_user("1", passwd, group);
  EXPECT_EQ(u.uid, 1u);   // daemon's uid, found by its id field
  EXPECT_EQ(u.gid, 1u);
  const auto ug = resolve_user("1:1", passwd, group);
  EXPECT_EQ(ug.uid, 1u);
  EXPECT_EQ(ug.gid, 1u);
  const auto g7 = resolve_user("nobody:7", passwd, group);
  EXPECT_EQ(g7.gid, 7u);  // not group "7" (gid 0)
  auto added = resolve_user("nobody", passwd, group);
  add_groups(added, {"7"}, group);
  EXPECT_EQ(added.groups, (std::vector<gid_t>{7}));
  // A name is still found by name, and an unknown number needs no entry.
  EXPECT_EQ(resolve_user("alice", passwd, group).uid, 1000u);
  EXPECT_EQ(resolve_user("4242", passwd, group).uid, 4242u);
}

TEST(User, IdsPastTheKernelsRangeAreRefusedNotWrapped) {
  for (const std::string big : {"4294967295", "4294967296", "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_THROW(resolve_user(big, kPasswd, kGroup), UsageError) << big;
    EXPECT_THROW(resolve_user("0:" + big, kPasswd, kGroup), UsageError) << big;
    auto u = resolve_user("nobody", kPasswd, kGroup);
    EXPECT_THROW(add_groups(u, {big}, kGroup), UsageError) << big;
    EXPECT_THROW(validate_user_spec(big), UsageError) << big;
    EXPECT_THROW(validate_user_spec("root:" + big), UsageError) << big;
    EXPECT_THROW(validate_user_spec("", {big}), UsageError) << big;
  }
  EXPECT_EQ(resolve_user("4294967294", kPasswd, kGroup).uid, 4294967294u);
  EXPECT_NO_THROW(validate_user_spec("4294967294:4294967294", {"4294967294", "staff"}));
  EXPECT_NO_THROW(validate_user_spec("alice:staff"));
}

TEST(User, EntriesWithIdsOutOfRangeNeverMatch) {
  const std::string passwd = "wrap:x:4294967296:4294967296::/:/bin/sh\n" + kPasswd;
  EXPECT_THROW(resolve_user("wrap", passwd, kGroup), UsageError);
  const auto root = resolve_user("0", passwd, kGroup);
  EXPECT_EQ(root.uid, 0u);
  EXPECT_EQ(root.home, "/root");
}
