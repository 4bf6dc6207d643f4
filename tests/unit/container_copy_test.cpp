// copy_container_tree: what a copy out of a container keeps, and that no
// symlink, planted or swapped in while the copy runs, takes it out of the
// container's tree (CVE-2018-15664). Runs as root (ctest does): whiteouts
// and device nodes need mknod, owners chown.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "runtime/container_copy.hpp"
#include "runtime/sys/error.hpp"
#include "temp_dir.hpp"

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSecret = "host secret: never in an image\n";

void write(const fs::path& p, const std::string& data, mode_t mode = 0644) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::trunc) << data;
  fs::permissions(p, static_cast<fs::perms>(mode));
}
std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}
std::string xattr(const fs::path& p, const char* name) {
  char buf[256];
  const ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

class ContainerCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mknod, chown)";
    upper_ = tmp_.path() / "upper";
    dest_ = tmp_.path() / "dest";
    fs::create_directories(upper_);
    fs::create_directories(dest_);
    // A host file outside the container's tree, root-only.
    secret_ = host_.path() / "secret";
    write(secret_, kSecret, 0600);
  }

  // Every regular file below `dir` that holds the secret.
  static std::vector<std::string> leaks(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (!e.is_symlink() && e.is_regular_file() && read(e.path()).find("host secret") != std::string::npos)
        out.push_back(e.path().string());
    return out;
  }

  nrun::test::TempDir tmp_{"nrun-copy-test"}, host_{"nrun-copy-host"};
  fs::path upper_, dest_, secret_;
};

TEST(ContainerCopyXattrs, KeepsAclsCapabilitiesUserAndTheOpaqueMarkerOnly) {
  for (const char* kept : {"system.posix_acl_access", "system.posix_acl_default", "security.capability", "user.mime",
                           "trusted.overlay.opaque", "user.overlay.opaque"})
    EXPECT_TRUE(keep_container_xattr(kept)) << kept;
  for (const char* dropped : {"trusted.overlay.origin", "trusted.overlay.impure", "user.overlay.redirect",
                              "security.selinux", "trusted.anything", "security.ima"})
    EXPECT_FALSE(keep_container_xattr(dropped)) << dropped;
}

TEST_F(ContainerCopyTest, KeepsWhatALayerNeeds) {
  write(upper_ / "etc/conf", "conf\n", 0640);
  ASSERT_EQ(::chown((upper_ / "etc/conf").c_str(), 1000, 2000), 0);
  fs::create_hard_link(upper_ / "etc/conf", upper_ / "etc/conf.link");
  fs::create_symlink("/etc/conf", upper_ / "abs-link");
  fs::create_symlink("../../../../outside", upper_ / "etc/rel-link");
  ASSERT_EQ(::mknod((upper_ / "etc/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);  // whiteout
  ASSERT_EQ(::mknod((upper_ / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::mkfifo((upper_ / "fifo").c_str(), 0600), 0);  // a copy that opened it would hang here
  fs::create_directories(upper_ / "opaque");
  ASSERT_EQ(::setxattr((upper_ / "opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_EQ(::setxattr((upper_ / "opaque").c_str(), "trusted.overlay.origin", "x", 1, 0), 0);
  ASSERT_EQ(::setxattr((upper_ / "etc/conf").c_str(), "user.note", "hi", 2, 0), 0);
  ASSERT_EQ(::lsetxattr((upper_ / "abs-link").c_str(), "trusted.mark", "1", 1, 0), 0);
  // A sparse file: 64 MiB, 4 bytes of data at the end.
  {
    const int fd = ::open((upper_ / "sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "tail", 4, (64 << 20) - 4), 4);
    ::close(fd);
  }
  const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (upper_ / "etc/conf").c_str(), times, 0), 0);

  copy_container_tree(upper_, dest_);

  EXPECT_EQ(read(dest_ / "etc/conf"), "conf\n");
  const struct stat conf = lstat_of(dest_ / "etc/conf");
  EXPECT_EQ(conf.st_mode & 07777, 0640u);
  EXPECT_EQ(conf.st_uid, 1000u);
  EXPECT_EQ(conf.st_gid, 2000u);
  EXPECT_EQ(conf.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(conf.st_ino, lstat_of(dest_ / "etc/conf.link").st_ino) << "hard link kept";
  EXPECT_EQ(fs::read_symlink(dest_ / "abs-link"), "/etc/conf");
  EXPECT_EQ(fs::read_symlink(dest_ / "etc/rel-link"), "../../../../outside");
  EXPECT_EQ(lstat_of(dest_ / "etc/gone").st_rdev, makedev(0, 0));
  EXPECT_TRUE(S_ISCHR(lstat_of(dest_ / "etc/gone").st_mode));
  EXPECT_EQ(lstat_of(dest_ / "null").st_rdev, makedev(1, 3));
  EXPECT_TRUE(S_ISFIFO(lstat_of(dest_ / "fifo").st_mode));
  EXPECT_EQ(xattr(dest_ / "opaque", "trusted.overlay.opaque"), "y");
  EXPECT_EQ(xattr(dest_ / "opaque", "trusted.overlay.origin"), "<none>");
  EXPECT_EQ(xattr(dest_ / "etc/conf", "user.note"), "hi");
  EXPECT_EQ(xattr(dest_ / "abs-link", "trusted.mark"), "<none>") << "trusted.* is the host's";
  const struct stat sparse = lstat_of(dest_ / "sparse");
  EXPECT_EQ(sparse.st_size, 64 << 20);
  EXPECT_LT(sparse.st_blocks * 512, 1 << 20) << "holes kept";
  std::ifstream f(dest_ / "sparse");
  f.seekg((64 << 20) - 4);
  std::string tail(4, '\0');
  f.read(tail.data(), 4);
  EXPECT_EQ(tail, "tail");
}

TEST_F(ContainerCopyTest, KeepsAclsAndFileCapabilities) {
  write(upper_ / "bin/ping", "elf", 0755);
  // vfs_cap_data revision 2: cap_net_raw (bit 13) permitted and effective.
  const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};
  ASSERT_EQ(::setxattr((upper_ / "bin/ping").c_str(), "security.capability", cap, sizeof cap, 0), 0);
  // user::rw- user:1000:r-- group::r-- mask::r-- other::---
  const unsigned char acl[] = {2, 0, 0, 0,                                            // version
                               1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,                    // ACL_USER_OBJ rw
                               2, 0, 4, 0, 0xe8, 0x03, 0, 0,                          // ACL_USER 1000 r
                               4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,                    // ACL_GROUP_OBJ r
                               0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,                 // ACL_MASK r
                               0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};                // ACL_OTHER
  write(upper_ / "shared", "acl'd", 0640);
  ASSERT_EQ(::setxattr((upper_ / "shared").c_str(), "system.posix_acl_access", acl, sizeof acl, 0), 0);

  copy_container_tree(upper_, dest_);

  EXPECT_EQ(xattr(dest_ / "bin/ping", "security.capability"), std::string(reinterpret_cast<const char*>(cap), sizeof cap));
  EXPECT_EQ(xattr(dest_ / "shared", "system.posix_acl_access"),
            std::string(reinterpret_cast<const char*>(acl), sizeof acl));
}

TEST_F(ContainerCopyTest, PlantedSymlinksAreCopiedAsSymlinksNeverFollowed) {
  fs::create_symlink(secret_, upper_ / "file-link");
  fs::create_symlink(host_.path(), upper_ / "dir-link");
  fs::create_directories(upper_ / "d");
  fs::create_symlink("/proc/self/root" + secret_.string(), upper_ / "d/magic");
  copy_container_tree(upper_, dest_);
  EXPECT_EQ(fs::read_symlink(dest_ / "file-link"), secret_);
  EXPECT_EQ(fs::read_symlink(dest_ / "dir-link"), host_.path());
  EXPECT_TRUE(fs::is_symlink(dest_ / "d/magic"));
  EXPECT_TRUE(leaks(dest_).empty());
}

TEST_F(ContainerCopyTest, AMissingTreeIsAnErrorNamingIt) {
  try {
    copy_container_tree(upper_ / "nope", dest_);
    FAIL() << "expected an error";
  } catch (const nrun::sys::SysError& e) {
    EXPECT_EQ(e.err(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

// The attack itself: a process swaps a regular file and a symlink to the
// host's secret (renameat2 RENAME_EXCHANGE) as fast as it can while the
// tree is copied, over and over. The copy only ever sees one or the other,
// each for what it is.
TEST_F(ContainerCopyTest, SwappingAFileForASymlinkDuringTheCopyNeverLeaksTheHostFile) {
  for (int i = 0; i < 50; ++i) write(upper_ / ("pad/" + std::to_string(i)), std::string(4096, 'x'));
  write(upper_ / "data/f", "container data\n");
  fs::create_symlink(secret_, upper_ / "data/s");
  // Killed and reaped however the test ends.
  struct Swapper {
    pid_t pid = ::fork();
    ~Swapper() {
      if (pid <= 0) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } swapper;
  ASSERT_GE(swapper.pid, 0);
  if (swapper.pid == 0) {
    const std::string f = (upper_ / "data/f").string(), s = (upper_ / "data/s").string();
    for (;;) ::renameat2(AT_FDCWD, f.c_str(), AT_FDCWD, s.c_str(), RENAME_EXCHANGE);
  }
  // libarchive's path-based reader (copy_tree, what commit used before)
  // leaks within the first two copies under this swapper.
  constexpr int kCopies = 100;
  int copies = 0, saw_link_as_f = 0;
  for (; copies < kCopies; ++copies) {
    const fs::path d = tmp_.path() / ("dest" + std::to_string(copies));
    fs::create_directories(d);
    copy_container_tree(upper_, d);
    const auto found = leaks(d);
    if (!found.empty()) {
      ADD_FAILURE() << "copy " << copies << " leaked the host file into " << found[0];
      break;
    }
    if (fs::is_symlink(d / "data/f")) ++saw_link_as_f;
    fs::remove_all(d);
  }
  EXPECT_EQ(copies, kCopies);
  EXPECT_GT(saw_link_as_f, 0) << "the swapper never ran during a copy";
}

}  // namespace
