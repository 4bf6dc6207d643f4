// The holes of issue 17 that live in the launcher, attacked as they were
// found: a hostile image that takes over the host's nrun binary through
// /proc/self/exe (runc's CVE-2019-5736), a passwd entry named like a number
// (CVE-2016-3697), and ids past 2^32 that would wrap to root.
//
// The "host binary" is a copy of nrun in the test's root, run as the user
// would run an installed nrun; each test checks that file afterwards.
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// What the exploit changed on the host file: mode, owner, size, contents,
// file capability.
struct FileFacts {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string contents;
  bool has_capability = false;
  bool operator==(const FileFacts&) const = default;
};

FileFacts facts_of(const fs::path& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) throw std::runtime_error("stat " + p.string());
  FileFacts f{st.st_mode, st.st_uid, st.st_gid, read_file(p), false};
  f.has_capability = ::getxattr(p.c_str(), "security.capability", nullptr, 0) >= 0;
  return f;
}

class HostBinaryTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
#ifndef NRUN_FAKE_LOADER
    GTEST_SKIP() << "the fake loader is built for x86-64 only";
#else
    // The image: /bin/sh is the one-line script, and the dynamic loader
    // every dynamically linked program (nrun among them) names is the
    // attacker's.
    const fs::path dir = make_rootfs("evil-rootfs");
    fs::remove(dir / "bin/sh");
    write_file(dir / "bin/sh", "#!/proc/self/exe\n", 0755);
    fs::create_directories(dir / "lib64");
    fs::copy_file(NRUN_FAKE_LOADER, dir / "lib64/ld-linux-x86-64.so.2");
    ASSERT_EQ(nrun({"image", "import", dir.string(), "evil"}).exit_code, 0);
#endif
  }
  void TearDown() override {
    for (const auto& b : binaries_)
      run_process({b.string(), "--root", root().string(), "rm", "-f", "victim"});
    NrunTest::TearDown();
  }

  // A copy of nrun that stands for the host's installed binary.
  fs::path host_binary(const std::string& name) {
    const fs::path p = root() / name;
    fs::copy_file(NRUN_BINARY, p);
    binaries_.push_back(p);
    return p;
  }
  RunResult with(const fs::path& binary, std::vector<std::string> args) {
    args.insert(args.begin(), {binary.string(), "--root", root().string()});
    return run_process(args);
  }
  void expect_attack_refused(const RunResult& r) {
    EXPECT_FALSE(contains(r.out, "fake-loader")) << "the host binary ran under the image's loader:\n" << r;
    EXPECT_NE(r.exit_code, 0) << r;  // the trampoline refuses to run as /proc/self/exe
  }

 private:
  std::vector<fs::path> binaries_;
};

TEST_F(HostBinaryTest, ExecOfAScriptNamingProcSelfExeNeverRunsTheHostBinary) {
  const fs::path nrun_bin = host_binary("nrun-installed");
  const FileFacts before = facts_of(nrun_bin);
  ASSERT_EQ(with(nrun_bin, {"run", "-d", "--name", "victim", "--net", "none", "evil", "sleep", "1000"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) expect_attack_refused(with(nrun_bin, {"exec", "victim", "sh"}));
  // The same through a PATH search, and with a terminal-less -i.
  expect_attack_refused(with(nrun_bin, {"exec", "-i", "victim", "sh", "-c", "true"}));
  EXPECT_TRUE(facts_of(nrun_bin) == before) << "the host binary was changed";
  // An ordinary command still runs.
  EXPECT_EQ(with(nrun_bin, {"exec", "victim", "cat", "/bin/sh"}).out, "#!/proc/self/exe\n");
}

TEST_F(HostBinaryTest, RunWhoseCommandIsTheScriptNeverRunsTheHostBinary) {
  const fs::path nrun_bin = host_binary("nrun-installed");
  const FileFacts before = facts_of(nrun_bin);
  expect_attack_refused(with(nrun_bin, {"run", "--rm", "--net", "none", "evil", "sh"}));
  expect_attack_refused(with(nrun_bin, {"run", "--rm", "--net", "none", "evil", "/bin/sh", "-c", "id"}));
  EXPECT_TRUE(facts_of(nrun_bin) == before) << "the host binary was changed";
}

// The variant that overwrote the file: the container's monitor keeps one
// nrun file busy (ETXTBSY), another one execs into it and is not busy after.
TEST_F(HostBinaryTest, ExecByAnotherNrunFileThanTheOneThatStartedTheContainer) {
  const fs::path starter = host_binary("nrun-old"), execer = host_binary("nrun-new");
  const FileFacts starter_before = facts_of(starter), execer_before = facts_of(execer);
  ASSERT_EQ(with(starter, {"run", "-d", "--name", "victim", "--net", "none", "evil", "sleep", "1000"}).exit_code, 0);
  for (int i = 0; i < 3; ++i) expect_attack_refused(with(execer, {"exec", "victim", "sh"}));
  EXPECT_EQ(with(execer, {"rm", "-f", "victim"}).exit_code, 0);
  EXPECT_TRUE(facts_of(execer) == execer_before) << "the exec'ing binary was changed";
  EXPECT_TRUE(facts_of(starter) == starter_before) << "the starting binary was changed";
}

TEST_F(HostBinaryTest, ANumericUserIsAlwaysAUidNeverAName) {
  // The image names a user "1" (and a group "1") with uid and gid 0.
  const fs::path dir = make_rootfs("named-one", {{"etc/passwd", "root:x:0:0::/root:/bin/sh\n1:x:0:0::/:/bin/sh\n"},
                                                 {"etc/group", "root:x:0:\n1:x:0:\n"}});
  ASSERT_EQ(nrun({"image", "import", dir.string(), "named-one"}).exit_code, 0);
  EXPECT_EQ(nrun({"run", "--rm", "--net", "none", "-u", "1", "named-one", "id", "-u"}).out, "1\n");
  EXPECT_EQ(nrun({"run", "--rm", "--net", "none", "-u", "1:1", "named-one", "id"}).out, "uid=1 gid=1\n");
  EXPECT_EQ(nrun({"run", "--rm", "--net", "none", "-u", "0:1", "named-one", "id", "-g"}).out, "1\n");
  ASSERT_EQ(nrun({"run", "-d", "--name", "victim", "--net", "none", "named-one", "sleep", "1000"}).exit_code, 0);
  EXPECT_EQ(nrun({"exec", "-u", "1", "victim", "id", "-u"}).out, "1\n");
  EXPECT_EQ(nrun({"exec", "-u", "1:1", "victim", "id", "-G"}).out, "1\n");
  EXPECT_EQ(nrun({"rm", "-f", "victim"}).exit_code, 0);
}

TEST_F(HostBinaryTest, IdsPastTheKernelsRangeAreRefusedUpFront) {
  for (const std::string big : {"4294967296", "4294967295", "18446744073709551617"}) {
    expect_usage_error(nrun({"run", "--rm", "--net", "none", "-u", big, "busybox", "id"}), "-u " + big);
    expect_usage_error(nrun({"run", "--rm", "--net", "none", "-u", "0:" + big, "busybox", "id"}), "-u 0:" + big);
    expect_usage_error(nrun({"run", "--rm", "--net", "none", "--group-add", big, "busybox", "id"}),
                       "--group-add " + big);
    expect_usage_error(nrun({"run", "-d", "--net", "none", "-u", big, "busybox", "sleep", "9"}), "run -d -u " + big);
  }
  EXPECT_TRUE(record_ids().empty()) << "a refused run left a record";
  ASSERT_EQ(nrun({"run", "-d", "--name", "victim", "--net", "none", "busybox", "sleep", "1000"}).exit_code, 0);
  const RunResult r = nrun({"exec", "-u", "4294967296", "victim", "id", "-u"});
  expect_usage_error(r, "exec -u 4294967296");
  EXPECT_TRUE(contains(r.err, "4294967296")) << r;
  EXPECT_EQ(nrun({"exec", "-u", "4294967294", "victim", "id", "-u"}).out, "4294967294\n");
  EXPECT_EQ(nrun({"rm", "-f", "victim"}).exit_code, 0);
}

}  // namespace
}  // namespace nrun::it
