// The security fields of a container's spec: validation before anything is
// created, and the record round trip (exec rebuilds the settings from it).
#include <gtest/gtest.h>

#include "runtime/security.hpp"
#include "runtime/spec.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

namespace {
ContainerSpec minimal() {
  ContainerSpec s;
  s.image = "busybox";
  s.command = {"true"};
  s.net = "none";
  return s;
}
}  // namespace

TEST(SecuritySpec, DefaultsAreHardened) {
  const ContainerSpec s;
  EXPECT_TRUE(s.no_new_privileges);
  EXPECT_FALSE(s.privileged);
  EXPECT_EQ(s.seccomp_profile, "");
  const auto back = nlohmann::json(nlohmann::json{{"name", ""}, {"image", "b"}, {"command", {"sh"}}}).get<ContainerSpec>();
  EXPECT_TRUE(back.no_new_privileges);  // records written before the field existed
}

TEST(SecuritySpec, RoundTrip) {
  ContainerSpec s = minimal();
  s.cap_add = {"NET_ADMIN"};
  s.cap_drop = {"ALL"};
  s.privileged = true;
  s.no_new_privileges = false;
  s.seccomp_profile = R"({"defaultAction":"SCMP_ACT_ALLOW"})";
  s.user = "nobody:nogroup";
  s.group_add = {"audio", "4242"};
  s.sysctls = {{"net.ipv4.ip_forward", "1"}};
  const auto back = nlohmann::json(s).get<ContainerSpec>();
  EXPECT_EQ(back.cap_add, s.cap_add);
  EXPECT_EQ(back.cap_drop, s.cap_drop);
  EXPECT_TRUE(back.privileged);
  EXPECT_FALSE(back.no_new_privileges);
  EXPECT_EQ(back.seccomp_profile, s.seccomp_profile);
  EXPECT_EQ(back.user, s.user);
  EXPECT_EQ(back.group_add, s.group_add);
  EXPECT_EQ(back.sysctls, s.sysctls);
}

TEST(SecuritySpec, Validation) {
  auto bad = [](auto edit) {
    ContainerSpec s = minimal();
    edit(s);
    return s;
  };
  EXPECT_NO_THROW(validate(minimal()));
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.cap_add = {"NOPE"}; })), UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.cap_drop = {"CAP_NOPE"}; })), UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.seccomp_profile = "{not json"; })), UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.sysctls = {{"kernel.hostname", "x"}}; })), UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) {
                 s.net = "host";
                 s.sysctls = {{"net.ipv4.ip_forward", "1"}};
               })),
               UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.user = ":5"; })), UsageError);
  EXPECT_THROW(validate(bad([](ContainerSpec& s) { s.group_add = {""}; })), UsageError);
  EXPECT_NO_THROW(validate(bad([](ContainerSpec& s) {
    s.cap_add = {"ALL"};
    s.seccomp_profile = kSeccompUnconfined;
    s.user = "1000:1000";
    s.sysctls = {{"kernel.shmmax", "1000000"}};
  })));
}

TEST(SecuritySpec, PrivilegedMeansNoSeccompAndNoDeviceRules) {
  ContainerSpec s = minimal();
  EXPECT_TRUE(seccomp_profile_of(s).has_value());
  s.seccomp_profile = kSeccompUnconfined;
  EXPECT_FALSE(seccomp_profile_of(s).has_value());
  s.seccomp_profile.clear();
  s.privileged = true;
  EXPECT_FALSE(seccomp_profile_of(s).has_value());
  const auto sec = process_security(s);
  EXPECT_TRUE(sec.seccomp.empty());
  EXPECT_TRUE(sec.devices.empty());
  const auto plain = process_security(minimal());
  EXPECT_FALSE(plain.seccomp.empty());
  EXPECT_FALSE(plain.devices.empty());
  EXPECT_TRUE(plain.no_new_privileges);
}
