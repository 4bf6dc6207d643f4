#include "runtime/sysctl.hpp"

#include <gtest/gtest.h>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

TEST(Sysctl, ParsesKeyValue) {
  EXPECT_EQ(parse_sysctl("net.ipv4.ip_forward=1"), (std::pair<std::string, std::string>{"net.ipv4.ip_forward", "1"}));
  EXPECT_EQ(parse_sysctl("kernel.sem=250 32000 32 128").second, "250 32000 32 128");
  EXPECT_EQ(parse_sysctl("net.core.somaxconn=").second, "");
  EXPECT_THROW(parse_sysctl("net.ipv4.ip_forward"), UsageError);
  EXPECT_THROW(parse_sysctl("=1"), UsageError);
}

TEST(Sysctl, OnlyNamespacedOnes) {
  for (const char* ok : {"net.ipv4.ip_forward", "net.ipv6.conf.all.disable_ipv6", "net.core.somaxconn",
                         "kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.msgmax",
                         "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "fs.mqueue.msg_max"})
    EXPECT_NO_THROW(validate_sysctl(ok, "bridge", "")) << ok;
  for (const char* bad : {"kernel.hostname", "kernel.domainname", "kernel.panic", "vm.swappiness", "fs.file-max",
                          "kernel.shm", "kernel.msgxyz", "net", "kernel.core_pattern"})
    EXPECT_THROW(validate_sysctl(bad, "bridge", ""), UsageError) << bad;
}

TEST(Sysctl, NotInANamespaceTheContainerDoesNotOwn) {
  EXPECT_THROW(validate_sysctl("net.ipv4.ip_forward", "host", ""), UsageError);
  EXPECT_THROW(validate_sysctl("net.ipv4.ip_forward", "container:abc", ""), UsageError);
  EXPECT_NO_THROW(validate_sysctl("net.ipv4.ip_forward", "none", "host"));
  EXPECT_THROW(validate_sysctl("kernel.shmmax", "bridge", "host"), UsageError);
  EXPECT_THROW(validate_sysctl("fs.mqueue.msg_max", "bridge", "container:abc"), UsageError);
  EXPECT_NO_THROW(validate_sysctl("kernel.shmmax", "host", ""));
}

TEST(Sysctl, NamesCannotBePaths) {
  for (const char* bad : {"net..ipv4", "net/ipv4/ip_forward", "net.ipv4.", ".net", "net.ipv4.ip forward", "net.*",
                          "net.ipv4.ip_forward\n", ""})
    EXPECT_THROW(validate_sysctl(bad, "bridge", ""), UsageError) << bad;
  EXPECT_EQ(sysctl_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
}
