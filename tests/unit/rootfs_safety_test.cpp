// Path safety of the rootfs code against a hostile image, on a plain
// directory (openat2's RESOLVE_IN_ROOT needs no privilege), and the mount
// plan's security parts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {
class InRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_);
    fs::create_directories(outside_);
    fd_ = ::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { ::close(fd_); }
  // The path an O_PATH fd names.
  static fs::path where(const nrun::sys::Fd& fd) { return fs::read_symlink("/proc/self/fd/" + std::to_string(fd.get())); }
  // A symlink in the image pointing at the host's `outside_` by an
  // absolute path that climbs: followed as a string it would leave.
  std::string escape() const { return "/../../../../../../.." + outside_.string(); }

  nrun::test::TempDir tmp_{"nrun-inroot"};
  const fs::path base_ = tmp_.path(), root_ = base_ / "rootfs", outside_ = base_ / "outside";
  int fd_ = -1;
};
}  // namespace

TEST_F(InRoot, ClimbingSymlinkLandsInsideTheRoot) {
  fs::create_symlink(escape(), root_ / "mnt");
  fs::create_directories(root_ / outside_.relative_path());  // the same path, inside
  const auto fd = open_in_root(fd_, "/mnt/x", true);
  EXPECT_EQ(where(fd), root_ / outside_.relative_path() / "x");
  EXPECT_FALSE(fs::exists(outside_ / "x"));
}

TEST_F(InRoot, DanglingSymlinkIsCreatedInsideTheRoot) {
  // /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf, as Ubuntu ships it.
  fs::create_directories(root_ / "etc");
  fs::create_symlink("../run/systemd/resolve/stub-resolv.conf", root_ / "etc/resolv.conf");
  const auto fd = open_in_root(fd_, "/etc/resolv.conf", true, true);
  EXPECT_EQ(where(fd), root_ / "run/systemd/resolve/stub-resolv.conf");
  EXPECT_TRUE(fs::is_regular_file(root_ / "run/systemd/resolve/stub-resolv.conf"));
  // An absolute one pointing at the host's directory: made inside too.
  fs::create_symlink(escape() + "/hosts", root_ / "etc/hosts");
  const auto hosts = open_in_root(fd_, "/etc/hosts", true, true);
  EXPECT_EQ(where(hosts), root_ / outside_.relative_path() / "hosts");
  EXPECT_FALSE(fs::exists(outside_ / "hosts"));
}

TEST_F(InRoot, SymlinkLoopsEnd) {
  fs::create_symlink("b", root_ / "a");
  fs::create_symlink("a", root_ / "b");
  EXPECT_THROW(open_in_root(fd_, "/a/x", true), nrun::sys::SysError);
}

TEST_F(InRoot, RefusingSymlinks) {
  fs::create_directories(root_ / "real");
  fs::create_symlink("real", root_ / "proc");
  try {
    open_in_root(fd_, "/proc", true, false, Symlinks::refuse);
    ADD_FAILURE() << "a symlinked /proc was accepted";
  } catch (const nrun::sys::SysError& e) {
    EXPECT_EQ(e.err(), ELOOP);
  }
  EXPECT_NO_THROW(open_in_root(fd_, "/real", true, false, Symlinks::refuse));
}

TEST_F(InRoot, MagicLinksAreRefused) {
  // The workdir trick of CVE-2024-21626: /proc/self/fd/N names whatever fd N
  // is, a host directory included.
  fs::create_symlink("/proc/self/fd/" + std::to_string(fd_), root_ / "escape");
  EXPECT_THROW(open_in_root(fd_, "/escape", false), nrun::sys::SysError);
  // Through a real procfs inside the "root" (as after /proc is mounted).
  const int procfd = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(procfd, 0);
  EXPECT_THROW(open_in_root(procfd, "/self/fd/" + std::to_string(fd_), false), nrun::sys::SysError);
  EXPECT_THROW(open_in_root(procfd, "/self/cwd", false), nrun::sys::SysError);
  ::close(procfd);
}

TEST(MountPlan, PrivilegedDropsMasksAndAddsHostDevices) {
  ContainerSpec spec;
  spec.image = "busybox";
  spec.command = {"true"};
  spec.sysctls = {{"net.ipv4.ip_forward", "1"}};
  RootfsInput in{{"/l"}, "/u", "/w", "/r", {}};
  const auto plain = build_mount_plan(spec, in);
  EXPECT_FALSE(plain.masked_paths.empty());
  EXPECT_FALSE(plain.readonly_paths.empty());
  EXPECT_EQ(plain.sysctls, spec.sysctls);
  int real_dirs = 0;
  for (const auto& s : plain.before_pivot) {
    if (s.real_directory) {
      ++real_dirs;
      EXPECT_TRUE(s.target == "/proc" || s.target == "/sys" || s.target == "/dev") << s.target;
    }
    if (s.target == "/sys") EXPECT_TRUE(s.flags & MS_RDONLY);
    EXPECT_NE(s.kind, MountStep::Kind::host_devices);
  }
  EXPECT_EQ(real_dirs, 3);
  spec.privileged = true;
  const auto priv = build_mount_plan(spec, in);
  EXPECT_TRUE(priv.masked_paths.empty());
  EXPECT_TRUE(priv.readonly_paths.empty());
  bool host_devices = false;
  for (const auto& s : priv.before_pivot) {
    if (s.target == "/sys") EXPECT_FALSE(s.flags & MS_RDONLY);
    host_devices |= s.kind == MountStep::Kind::host_devices;
  }
  EXPECT_TRUE(host_devices);
}
