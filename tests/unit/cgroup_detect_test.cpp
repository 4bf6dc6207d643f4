// Choosing v1 or v2 from mountinfo and /proc/self/cgroup texts.
#include <gtest/gtest.h>

#include "runtime/cgroup.hpp"

using namespace nrun::runtime;

namespace {
// This machine: controllers on v1, an empty cgroup2 at .../unified, and nrun
// in a memory cgroup of its own.
constexpr const char* kHybridMountinfo =
    "22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/0c37\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

// systemd's hybrid (Ubuntu 20.04): cpu,cpuacct together, optional fields
// before the separator.
constexpr const char* kSystemdHybridMountinfo =
    "25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup "
    "rw,xattr,name=systemd\n"
    "30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory\n";
constexpr const char* kSystemdHybridCgroup =
    "12:memory:/user.slice/user-0.slice/session-1.scope\n"
    "4:cpu,cpuacct:/user.slice\n"
    "1:name=systemd:/user.slice/user-0.slice/session-1.scope\n"
    "0::/user.slice/user-0.slice/session-1.scope\n";

constexpr const char* kPureV2Mountinfo =
    "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "26 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
}  // namespace

TEST(CgroupDetect, ThisMachinesHybridPicksV1ForEveryController) {
  const auto l = detect_cgroup_layout(kHybridMountinfo, kHybridCgroup);
  EXPECT_EQ(l.version, CgroupVersion::v1);
  ASSERT_EQ(l.v1.size(), 7u);
  EXPECT_EQ(l.v1.at("memory"), "/sys/fs/cgroup/memory/process_api/0c37");
  EXPECT_EQ(l.v1.at("freezer"), "/sys/fs/cgroup/freezer") << "commit pauses containers with it";
  EXPECT_EQ(l.v1.at("devices"), "/sys/fs/cgroup/devices");
  EXPECT_EQ(l.v1.at("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(l.v1.at("cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(l.v1.at("cpuset"), "/sys/fs/cgroup/cpuset");
  EXPECT_EQ(l.v1.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_TRUE(l.v2_mount.empty());
}

TEST(CgroupDetect, SystemdHybridWithCoMountedCpuAndCpuacct) {
  const auto l = detect_cgroup_layout(kSystemdHybridMountinfo, kSystemdHybridCgroup);
  EXPECT_EQ(l.version, CgroupVersion::v1);
  EXPECT_EQ(l.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct/user.slice");
  EXPECT_EQ(l.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/user.slice");
  EXPECT_EQ(l.v1.at("memory"), "/sys/fs/cgroup/memory/user.slice/user-0.slice/session-1.scope");
  EXPECT_EQ(l.v1.count("pids"), 0u) << "not mounted: a --pids-limit will be an error naming it";
}

TEST(CgroupDetect, PureV2) {
  const auto l = detect_cgroup_layout(kPureV2Mountinfo, "0::/user.slice/user-0.slice/session-1.scope\n");
  EXPECT_EQ(l.version, CgroupVersion::v2);
  EXPECT_EQ(l.v2_mount, "/sys/fs/cgroup");
  EXPECT_EQ(l.v2_own, "/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope");
  EXPECT_TRUE(l.v1.empty());
}

TEST(CgroupDetect, V2WhenV1CarriesOnlyNamedHierarchies) {
  // v1 holds just name=systemd; every controller is on the cgroup2 mount.
  const std::string mi =
      "26 25 0:23 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
      "27 25 0:24 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd\n";
  const auto l = detect_cgroup_layout(mi, "1:name=systemd:/init.scope\n0::/init.scope\n");
  EXPECT_EQ(l.version, CgroupVersion::v2);
  EXPECT_EQ(l.v2_own, "/sys/fs/cgroup/unified/init.scope");
}

TEST(CgroupDetect, MountRootInsideTheHierarchyIsStripped) {
  // A container whose cgroupfs is a bind mount of its own cgroup (no cgroup
  // namespace): /proc/self/cgroup shows the full path, the mount its root.
  const std::string mi =
      "40 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
      "41 31 0:33 /docker/abc /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids\n";
  const auto l = detect_cgroup_layout(mi, "4:memory:/docker/abc\n3:pids:/docker/abc/sub\n");
  EXPECT_EQ(l.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.v1.at("pids"), "/sys/fs/cgroup/pids/sub");
}

TEST(CgroupDetect, EscapedMountpoint) {
  const auto mounts = parse_cgroup_mounts("26 25 0:23 / /mnt/my\\040cgroup rw - cgroup2 none rw\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mountpoint, "/mnt/my cgroup");
  EXPECT_TRUE(mounts[0].unified);
}

TEST(CgroupDetect, NoCgroupMounts) {
  const auto l = detect_cgroup_layout("22 1 0:20 / /sys rw - sysfs sysfs rw\n", "0::/\n");
  EXPECT_EQ(l.version, CgroupVersion::none);
  EXPECT_EQ(make_container_cgroup(l, "x"), nullptr);
}

TEST(CgroupDetect, ParseProcCgroup) {
  const auto m = parse_proc_cgroup("4:cpu,cpuacct:/a\n1:name=systemd:/b:c\n0::/d\n");
  EXPECT_EQ(m.at("cpu"), "/a");
  EXPECT_EQ(m.at("cpuacct"), "/a");
  EXPECT_EQ(m.at("name=systemd"), "/b:c");
  EXPECT_EQ(m.at(""), "/d");
}

TEST(CgroupDetect, ParseMountsKeepsControllersOnly) {
  const auto mounts = parse_cgroup_mounts(kSystemdHybridMountinfo);
  ASSERT_EQ(mounts.size(), 4u);
  EXPECT_EQ(mounts[1].controllers, (std::vector<std::string>{"name=systemd"}));
  EXPECT_EQ(mounts[2].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(mounts[2].mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
}
