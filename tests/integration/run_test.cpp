// `nrun run` end to end on the default busybox image: exit codes, isolation,
// the rootfs, volumes, environment, terminals and bad input.
//
// Containers run with --net none, so that a test of the runtime does not fail
// for a fault in the default (bridge) network; DefaultNetwork alone runs
// without --net, as a user most often types it.
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;

using RunTest = NrunTest;

// ------------------------------------------------------------- exit codes

TEST_F(RunTest, TrueExitsZero) {
  const auto r = nrun({"run", "--net", "none", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "") << r;
}

TEST_F(RunTest, ImageIsOptionalDefaultIsBusybox) {
  const auto r = nrun({"run", "--net", "none", "sh", "-c", "echo ok"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "ok\n") << r;
}

TEST_F(RunTest, ContainerExitStatusIsNrunsExitStatus) {
  EXPECT_EQ(nrun({"run", "--net", "none", "busybox", "sh", "-c", "exit 1"}).exit_code, 1);
  EXPECT_EQ(nrun({"run", "--net", "none", "busybox", "sh", "-c", "exit 42"}).exit_code, 42);
}

TEST_F(RunTest, NonExecutableFileExits126) {
  const fs::path vol = root() / "vol";
  write_file(vol / "script.sh", "#!/bin/sh\necho should-not-run\n", 0644);
  const auto r = nrun({"run", "--net", "none", "-v", vol.string() + ":/v", "busybox", "/v/script.sh"});
  EXPECT_EQ(r.exit_code, 126) << r;
  EXPECT_EQ(r.out.find("should-not-run"), std::string::npos) << r;
  EXPECT_NE(r.err, "") << r;

  const auto dev = nrun({"run", "--net", "none", "busybox", "/dev/null"});
  EXPECT_EQ(dev.exit_code, 126) << dev;
}

TEST_F(RunTest, MissingCommandExits127) {
  const auto r = nrun({"run", "--net", "none", "busybox", "no-such-command-xyz"});
  EXPECT_EQ(r.exit_code, 127) << r;
  EXPECT_NE(r.err.find("executable file not found"), std::string::npos) << r;
  EXPECT_NE(r.err.find("no-such-command-xyz"), std::string::npos) << r;

  const auto abs = nrun({"run", "--net", "none", "busybox", "/no/such/binary"});
  EXPECT_EQ(abs.exit_code, 127) << abs;
}

// PID 1 of a pid namespace ignores a SIGKILL sent from inside it (so
// `sh -c 'kill -9 $$'` just returns): the container is killed from outside.
TEST_F(RunTest, KilledContainerExits137) {
  Child fg = nrun_async({"run", "--net", "none", "--name", "fg", "busybox", "sleep", "30"});
  ASSERT_TRUE(wait_for_status("fg", "running", 15s)) << "container fg never ran";
  const auto k = nrun({"kill", "fg"});
  EXPECT_EQ(k.exit_code, 0) << k;
  const auto r = fg.wait(20s);
  EXPECT_EQ(r.exit_code, 137) << r;
  const auto j = inspect("fg");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["State"]["ExitCode"], 137) << j.dump(2);
}

// -------------------------------------------------------------- isolation

TEST_F(RunTest, CommandIsPid1AndAlone) {
  const auto r = nrun({"run", "--net", "none", "busybox", "ps"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto ls = lines(r.out);
  ASSERT_GE(ls.size(), 2u) << r;
  EXPECT_NE(ls[0].find("PID"), std::string::npos) << r;
  ls.erase(ls.begin());
  ASSERT_EQ(ls.size(), 1u) << "only ps itself should be visible:\n" << r;
  std::istringstream first(ls[0]);
  std::string pid, last, tok;
  first >> pid;
  while (first >> tok) last = tok;
  EXPECT_EQ(pid, "1") << r;
  EXPECT_EQ(last, "ps") << r;
}

TEST_F(RunTest, HostnameFlag) {
  const auto r = nrun({"run", "--net", "none", "--hostname", "foo", "busybox", "hostname"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "foo\n") << r;
}

TEST_F(RunTest, DefaultHostnameIsShortId) {
  const auto r = nrun({"run", "--net", "none", "--name", "h", "busybox", "hostname"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto j = inspect("h");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(trim(r.out), j["Id"].get<std::string>().substr(0, 12)) << r;
}

TEST_F(RunTest, HostMountsAreInvisible) {
  // A mount of the test's own, made in the test's (throwaway) namespace.
  const fs::path marker = root() / "host-only-mount";
  bool mounted = false;
  if (in_throwaway_namespaces()) {
    fs::create_directories(marker);
    mounted = ::mount("nrun-it", marker.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  const auto r = nrun({"run", "--net", "none", "busybox", "cat", "/proc/self/mounts"});
  if (mounted) ::umount2(marker.c_str(), MNT_DETACH);
  ASSERT_EQ(r.exit_code, 0) << r;
  // The mount points (field 2); the overlay's options may well name the root.
  std::set<std::string> points;
  for (const auto& l : lines(r.out)) {
    std::istringstream ls(l);
    std::string src, mp;
    ls >> src >> mp;
    points.insert(mp);
    EXPECT_EQ(mp.find(root().string()), std::string::npos) << "host path visible: " << l;
    EXPECT_EQ(mp.find("host-only-mount"), std::string::npos) << "host mount visible: " << l;
    EXPECT_NE(src, "nrun-it") << "host mount visible: " << l;
    EXPECT_EQ(mp.rfind("/work", 0), std::string::npos) << "host path visible: " << l;
  }
  EXPECT_TRUE(points.count("/")) << r;
  EXPECT_TRUE(points.count("/proc")) << r;
}

TEST_F(RunTest, DefaultNetwork) {
  const auto r = nrun({"run", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 0) << r;
  const std::string id = run_detached({"busybox", "sleep", "30"});
  EXPECT_EQ(status_of(id), "running");
  // TearDown's rm -f and leftover checks cover the network's undo as well.
}

TEST_F(RunTest, NetNoneHasOnlyLoopback) {
  const auto r = nrun({"run", "--net", "none", "busybox", "cat", "/proc/net/dev"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::set<std::string> ifaces;
  for (const auto& l : lines(r.out))
    if (const auto colon = l.find(':'); colon != std::string::npos) ifaces.insert(trim(l.substr(0, colon)));
  EXPECT_EQ(ifaces, std::set<std::string>{"lo"}) << r;
}

TEST_F(RunTest, NetHostSharesTheNamespace) {
  if (!in_throwaway_namespaces()) GTEST_SKIP() << "adds a link: only inside scripts/test.sh's namespaces";
  // Any link will do; kernels without the dummy module still have bridges.
  RunResult add;
  for (const char* type : {"dummy", "bridge"})
    if ((add = run_process({"ip", "link", "add", "nrunit0", "type", type})).exit_code == 0) break;
  if (add.exit_code != 0) GTEST_SKIP() << "cannot add a link here: " << add;
  const auto host = nrun({"run", "--net", "host", "busybox", "cat", "/proc/net/dev"});
  const auto none = nrun({"run", "--net", "none", "busybox", "cat", "/proc/net/dev"});
  run_process({"ip", "link", "del", "nrunit0"});
  EXPECT_EQ(host.exit_code, 0) << host;
  EXPECT_NE(host.out.find("nrunit0"), std::string::npos) << host;
  EXPECT_EQ(none.out.find("nrunit0"), std::string::npos) << none;
}

// ----------------------------------------------------------------- rootfs

TEST_F(RunTest, WritesGoToTheContainersUpperDir) {
  const auto r = nrun({"run", "--net", "none", "--name", "w", "busybox", "sh", "-c", "echo data > /newfile"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto j = inspect("w");
  ASSERT_TRUE(j.is_object());
  const fs::path upper = root() / "containers" / j["Id"].get<std::string>() / "upper";
  ASSERT_TRUE(fs::exists(upper / "newfile")) << upper;
  EXPECT_EQ(read_file(upper / "newfile"), "data\n");

  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root() / "images", ec); it != fs::recursive_directory_iterator();
       it.increment(ec))
    EXPECT_NE(it->path().filename(), "newfile") << "written into an image layer: " << it->path();

  const auto fresh = nrun({"run", "--net", "none", "busybox", "test", "-e", "/newfile"});
  EXPECT_EQ(fresh.exit_code, 1) << "another container sees the first one's write\n" << fresh;
}

TEST_F(RunTest, ReadOnlyRootfs) {
  const fs::path vol = root() / "vol";
  fs::create_directories(vol);
  const auto r = nrun({"run", "--net", "none", "--read-only", "busybox", "touch", "/x"});
  EXPECT_NE(r.exit_code, 0) << r;
  const auto v =
      nrun({"run", "--net", "none", "--read-only", "-v", vol.string() + ":/data", "busybox", "touch", "/data/y"});
  EXPECT_EQ(v.exit_code, 0) << "volumes stay writable\n" << v;
  EXPECT_TRUE(fs::exists(vol / "y"));
}

// ---------------------------------------------------------------- volumes

TEST_F(RunTest, ReadWriteVolume) {
  const fs::path vol = root() / "vol";
  write_file(vol / "in.txt", "from host\n");
  const auto r = nrun({"run", "--net", "none", "-v", vol.string() + ":/data", "busybox", "sh", "-c",
                       "cat /data/in.txt; echo from container > /data/out.txt"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "from host\n") << r;
  ASSERT_TRUE(fs::exists(vol / "out.txt"));
  EXPECT_EQ(read_file(vol / "out.txt"), "from container\n");
}

TEST_F(RunTest, ReadOnlyVolume) {
  const fs::path vol = root() / "vol";
  write_file(vol / "in.txt", "from host\n");
  const auto r = nrun({"run", "--net", "none", "-v", vol.string() + ":/data:ro", "busybox", "sh", "-c",
                       "cat /data/in.txt; echo x > /data/out.txt"});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "from host\n") << r;
  EXPECT_FALSE(fs::exists(vol / "out.txt"));
}

TEST_F(RunTest, FileVolume) {
  const fs::path file = root() / "config.txt";
  write_file(file, "one file\n");
  const auto r =
      nrun({"run", "--net", "none", "-v", file.string() + ":/etc/app.conf:ro", "busybox", "cat", "/etc/app.conf"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "one file\n") << r;
}

// ------------------------------------------------------------ environment

TEST_F(RunTest, EnvFlags) {
  ::setenv("NRUN_IT_FROM_HOST", "passed-through", 1);
  const auto r = nrun({"run", "--net", "none", "-e", "FOO=bar", "-e", "X=1 2", "-e", "NRUN_IT_FROM_HOST", "busybox",
                       "sh", "-c", "echo \"$FOO|$X|$NRUN_IT_FROM_HOST\"; echo \"$PATH\""});
  ::unsetenv("NRUN_IT_FROM_HOST");
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 2u) << r;
  EXPECT_EQ(ls[0], "bar|1 2|passed-through");
  EXPECT_NE(ls[1].find("/bin"), std::string::npos) << "default PATH\n" << r;
}

TEST_F(RunTest, EnvFile) {
  const fs::path f = root() / "app.env";
  write_file(f, "# a comment\nA=1\n\nB=two words\n");
  const auto r = nrun({"run", "--net", "none", "--env-file", f.string(), "busybox", "sh", "-c", "echo \"$A|$B\""});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "1|two words\n") << r;
}

TEST_F(RunTest, Workdir) {
  const auto r = nrun({"run", "--net", "none", "-w", "/tmp", "busybox", "pwd"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "/tmp\n") << r;
}

// ------------------------------------------------------- stdin and the tty

TEST_F(RunTest, InteractiveStdin) {
  const auto r = nrun({"run", "--net", "none", "-i", "busybox", "cat"}, "line one\nline two\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "line one\nline two\n") << r;
}

TEST_F(RunTest, StdinNotAttachedWithoutI) {
  const auto r = nrun({"run", "--net", "none", "busybox", "cat"}, "not for the container\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "") << r;
}

TEST_F(RunTest, TtyHasATerminalOfTheCallersSize) {
  PtyProcess p(nrun_argv({"run", "--net", "none", "-t", "busybox", "sh", "-c", "tty; stty size"}), 33, 97);
  EXPECT_TRUE(p.expect_regex("/dev/pts/[0-9]+", 20s)) << p.output();
  EXPECT_TRUE(p.expect("33 97")) << "the container's terminal should have the caller's size\n" << p.output();
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value()) << p.output();
  EXPECT_EQ(*code, 0) << p.output();
  EXPECT_EQ(p.output().find('\0'), std::string::npos) << "NUL byte on the terminal";
}

TEST_F(RunTest, InteractiveShellThroughATty) {
  PtyProcess p(nrun_argv({"run", "--net", "none", "-it", "busybox", "sh"}));
  ASSERT_TRUE(p.expect_regex("[#$] ", 20s)) << "no prompt:\n" << p.output();
  p.send("echo hi-$((1+1))\r");
  EXPECT_TRUE(p.expect("hi-2")) << p.output();
  p.send("exit 3\r");
  const auto code = p.wait(20s);
  ASSERT_TRUE(code.has_value()) << p.output();
  EXPECT_EQ(*code, 3) << p.output();
  EXPECT_EQ(p.output().find('\0'), std::string::npos) << "NUL byte on the terminal";
}

// -------------------------------------------------------------- bad input

TEST_F(RunTest, BadInputIsExit125AndLeavesNoRecord) {
  const fs::path vol = root() / "vol";
  fs::create_directories(vol);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"invalid name", {"run", "--net", "none", "--name", "../x", "busybox", "true"}},
      {"missing volume source", {"run", "--net", "none", "-v", "/nonexistent-nrun-it/src:/data", "busybox", "true"}},
      {"relative container path", {"run", "--net", "none", "-v", vol.string() + ":data", "busybox", "true"}},
      {"container path above /", {"run", "--net", "none", "-v", vol.string() + ":/../x", "busybox", "true"}},
      {"unknown flag", {"run", "--net", "none", "--no-such-flag", "busybox", "true"}},
      {"bad env entry", {"run", "--net", "none", "-e", "=x", "busybox", "true"}},
      {"missing env file",
       {"run", "--net", "none", "--env-file", (root() / "missing.env").string(), "busybox", "true"}},
      {"invalid hostname", {"run", "--net", "none", "--hostname", "-bad-", "busybox", "true"}},
      {"relative workdir", {"run", "--net", "none", "-w", "relative/dir", "busybox", "true"}},
      {"unknown network", {"run", "--net", "no-such-net", "busybox", "true"}},
  };
  for (const auto& [what, args] : cases) {
    expect_usage_error(nrun(args), what);
    EXPECT_TRUE(record_ids().empty()) << what << ": a container record was left";
  }
}

TEST_F(RunTest, NameTakenIsExit125) {
  run_detached({"--net", "none", "--name", "dup", "busybox", "sleep", "30"});
  expect_usage_error(nrun({"run", "--net", "none", "--name", "dup", "busybox", "true"}), "name taken");
  EXPECT_EQ(record_ids().size(), 1u);
  EXPECT_EQ(status_of("dup"), "running");
}

// The name index decides under the store lock: of runs racing for one
// name exactly one gets it, every round, and the name is free again once
// its holder is removed.
TEST_F(RunTest, ConcurrentRunsWithOneNameHaveExactlyOneWinner) {
  constexpr int kRounds = 3, kRacers = 4;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Child> racers;
    racers.reserve(kRacers);
    for (int i = 0; i < kRacers; ++i)
      racers.push_back(nrun_async({"run", "-d", "--net", "none", "--name", "same", "busybox", "sleep", "30"}));
    int won = 0;
    std::string winner;
    for (auto& c : racers) {
      const RunResult r = c.wait(60s);
      if (r.exit_code == 0) {
        ++won;
        winner = trim(r.out);
      } else {
        EXPECT_EQ(r.exit_code, 125) << r;
        EXPECT_NE(r.err.find("'same' is already in use"), std::string::npos) << r;
      }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(record_ids().size(), 1u);
    EXPECT_EQ(inspect("same").value("Id", ""), winner);
    EXPECT_EQ(status_of("same"), "running");
    ASSERT_EQ(nrun({"rm", "-f", "same"}).exit_code, 0);
    EXPECT_TRUE(record_ids().empty());
  }
}

}  // namespace
}  // namespace nrun::it
