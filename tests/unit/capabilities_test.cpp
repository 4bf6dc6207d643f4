#include "runtime/capabilities.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

namespace {
uint64_t bit(int c) { return uint64_t{1} << c; }
}

TEST(Capabilities, NamesAsDockerSpellsThem) {
  EXPECT_EQ(parse_capability("NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(parse_capability("CAP_NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(parse_capability("net_admin"), CAP_NET_ADMIN);
  EXPECT_EQ(parse_capability("cap_sys_admin"), CAP_SYS_ADMIN);
  EXPECT_EQ(parse_capability("CHECKPOINT_RESTORE"), CAP_CHECKPOINT_RESTORE);
  EXPECT_EQ(parse_capability("CHOWN"), CAP_CHOWN);
  EXPECT_FALSE(parse_capability("NET_ADMINX"));
  EXPECT_FALSE(parse_capability("ALL"));
  EXPECT_FALSE(parse_capability(""));
  EXPECT_EQ(capability_name(CAP_NET_ADMIN), "CAP_NET_ADMIN");
  EXPECT_EQ(capability_names(bit(CAP_CHOWN) | bit(CAP_KILL)), (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(known_capabilities(), (uint64_t{1} << (CAP_LAST_CAP + 1)) - 1);
}

TEST(Capabilities, DefaultSetIsDockers) {
  const uint64_t d = default_capabilities();
  EXPECT_EQ(capability_names(d),
            (std::vector<std::string>{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
                                      "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                                      "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
                                      "CAP_SETFCAP"}));
  EXPECT_EQ(d, 0xa80425fbULL);  // what Docker containers show as CapEff
}

TEST(Capabilities, AddDropPrivilegedAsDocker) {
  const uint64_t all = known_capabilities() & ~bit(CAP_SYS_RESOURCE);  // a host without one
  const uint64_t d = default_capabilities();
  EXPECT_EQ(resolve_capabilities({}, {}, false, all), d);
  EXPECT_EQ(resolve_capabilities({"NET_ADMIN"}, {}, false, all), d | bit(CAP_NET_ADMIN));
  EXPECT_EQ(resolve_capabilities({"CAP_NET_ADMIN"}, {"chown"}, false, all), (d | bit(CAP_NET_ADMIN)) & ~bit(CAP_CHOWN));
  EXPECT_EQ(resolve_capabilities({}, {"ALL"}, false, all), 0u);
  EXPECT_EQ(resolve_capabilities({"NET_BIND_SERVICE"}, {"all"}, false, all), bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(resolve_capabilities({"ALL"}, {}, false, all), all);
  EXPECT_EQ(resolve_capabilities({"ALL"}, {"SYS_ADMIN"}, false, all), all & ~bit(CAP_SYS_ADMIN));
  EXPECT_EQ(resolve_capabilities({}, {}, true, all), all);
  EXPECT_EQ(resolve_capabilities({}, {"ALL"}, true, all), all);  // --privileged wins, as Docker
  EXPECT_THROW(resolve_capabilities({"NET_ADMINS"}, {}, false, all), UsageError);
  EXPECT_THROW(resolve_capabilities({}, {"BOGUS"}, false, all), UsageError);
}

TEST(Capabilities, AvailableIsWithinTheBoundingSet) {
  const uint64_t a = available_capabilities();
  EXPECT_EQ(a & ~known_capabilities(), 0u);
}
