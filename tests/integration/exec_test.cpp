// nrun exec and namespace sharing at run, driven as a user would: the real
// binary against real containers.
#include <dirent.h>
#include <sys/stat.h>

#include <set>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using ExecTest = NrunTest;

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

int count_fds(int pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

std::set<int> processes_mentioning(const std::string& needle) {
  std::set<int> pids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd;
    try {
      cmd = read_file(e.path() / "cmdline");
    } catch (...) {
      continue;
    }
    if (contains(cmd, needle)) pids.insert(std::stoi(name));
  }
  return pids;
}

TEST_F(ExecTest, SeesTheContainersProcessesHostnameAndFiles) {
  run_detached({"--net", "none", "--name", "box", "--hostname", "inside", "busybox", "sh", "-c",
                "echo written > /tmp/upper-file; exec top"});
  ASSERT_TRUE(wait_until([&] { return nrun({"exec", "box", "cat", "/tmp/upper-file"}).out == "written\n"; }));
  const auto ps = nrun({"exec", "box", "ps"});
  ASSERT_EQ(ps.exit_code, 0) << ps;
  const auto rows = lines(ps.out);
  ASSERT_EQ(rows.size(), 3u) << "header, top as PID 1, ps itself — nothing of the host\n" << ps;
  EXPECT_TRUE(contains(rows[1], " 1 ") && contains(rows[1], "top")) << ps;
  EXPECT_TRUE(contains(rows[2], "ps")) << ps;
  EXPECT_EQ(nrun({"exec", "box", "hostname"}).out, "inside\n");
  // The exec'd process sees the container's mounts: the overlay as "/", and
  // no mount point of the host's.
  const auto mounts = lines(nrun({"exec", "box", "cat", "/proc/self/mounts"}).out);
  ASSERT_FALSE(mounts.empty());
  EXPECT_EQ(mounts[0].rfind("overlay / overlay ", 0), 0u) << mounts[0];
  for (const auto& m : mounts) EXPECT_FALSE(contains(m.substr(0, m.find(" overlay ")), root().string())) << m;
}

TEST_F(ExecTest, ExitCodesPassThrough) {
  run_detached({"--net", "none", "--name", "c", "busybox", "sleep", "100"});
  EXPECT_EQ(nrun({"exec", "c", "true"}).exit_code, 0);
  EXPECT_EQ(nrun({"exec", "c", "sh", "-c", "exit 3"}).exit_code, 3);
  const auto not_found = nrun({"exec", "c", "no-such-command"});
  EXPECT_EQ(not_found.exit_code, 127) << not_found;
  EXPECT_TRUE(contains(not_found.err, "executable file not found")) << not_found;
  const auto not_exec = nrun({"exec", "c", "/etc/passwd"});
  EXPECT_EQ(not_exec.exit_code, 126) << not_exec;
}

TEST_F(ExecTest, EnvWorkdirAndUser) {
  run_detached({"--net", "none", "--name", "c", "-e", "FROM_RUN=r", "busybox", "sleep", "100"});
  const auto r = nrun({"exec", "-e", "EXTRA=x", "-w", "/tmp", "-u", "nobody", "c", "sh", "-c",
                       "echo $FROM_RUN $EXTRA; pwd; id -u; grep CapEff /proc/self/status"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto l = lines(r.out);
  ASSERT_EQ(l.size(), 4u) << r;
  EXPECT_EQ(l[0], "r x");
  EXPECT_EQ(l[1], "/tmp");
  EXPECT_EQ(l[2], "65534");
  EXPECT_EQ(l[3], "CapEff:\t0000000000000000") << "a non-root user gets no capabilities";
  const auto bad_user = nrun({"exec", "-u", "nosuchuser", "c", "true"});
  EXPECT_EQ(bad_user.exit_code, 125) << bad_user;
  EXPECT_TRUE(contains(bad_user.err, "nosuchuser")) << bad_user;
}

TEST_F(ExecTest, TtyThroughAPty) {
  run_detached({"--net", "none", "--name", "c", "busybox", "sleep", "100"});
  PtyProcess p(nrun_argv({"exec", "-it", "c", "sh"}), 30, 100);
  ASSERT_TRUE(p.expect("# ")) << p.output();
  p.send("echo hi-$((40+2)); tty; stty size\r");
  EXPECT_TRUE(p.expect("hi-42")) << p.output();
  EXPECT_TRUE(p.expect("/dev/pts/")) << p.output();
  EXPECT_TRUE(p.expect("30 100")) << p.output();
  p.send("exit 5\r");
  EXPECT_EQ(p.wait(), std::optional<int>(5)) << p.output();
}

TEST_F(ExecTest, DetachReturnsAtOnce) {
  run_detached({"--net", "none", "--name", "c", "busybox", "sleep", "100"});
  const auto r = nrun({"exec", "-d", "c", "sh", "-c", "sleep 1; touch /tmp/done"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(r.out.empty()) << r;
  EXPECT_TRUE(wait_until([&] { return nrun({"exec", "c", "test", "-e", "/tmp/done"}).exit_code == 0; }, 5s));
}

TEST_F(ExecTest, StoppedOrUnknownContainerFailsCleanly) {
  run_detached({"--net", "none", "--name", "c", "busybox", "sleep", "100"});
  ASSERT_EQ(nrun({"stop", "-t", "0", "c"}).exit_code, 0);
  const auto stopped = nrun({"exec", "c", "true"});
  EXPECT_EQ(stopped.exit_code, 125) << stopped;
  EXPECT_TRUE(contains(stopped.err, "is not running")) << stopped;
  const auto unknown = nrun({"exec", "nosuch", "true"});
  EXPECT_EQ(unknown.exit_code, 125) << unknown;
  EXPECT_TRUE(contains(unknown.err, "no such container")) << unknown;
}

TEST_F(ExecTest, FiftyExecsLeaveNothingBehind) {
  const std::string id = run_detached({"--net", "none", "--name", "c", "busybox", "sleep", "100"});
  const int init = inspect("c")["State"]["Pid"].get<int>();
  const auto state = nlohmann::json::parse(read_file(root() / "containers" / id / "state.json"));
  const int monitor = state.at("monitor_pid").get<int>();
  const int fds_before = count_fds(monitor), init_fds_before = count_fds(init);
  const std::string mounts_before = read_file("/proc/" + std::to_string(init) + "/mountinfo");
  const auto procs_before = processes_mentioning(id);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(nrun({"exec", "c", "true"}).exit_code, 0) << "exec " << i;
  EXPECT_EQ(count_fds(monitor), fds_before);
  EXPECT_EQ(count_fds(init), init_fds_before);
  EXPECT_EQ(read_file("/proc/" + std::to_string(init) + "/mountinfo"), mounts_before);
  EXPECT_EQ(lines(nrun({"exec", "c", "ps"}).out).size(), 3u) << "no exec'd process is left in the container";
  EXPECT_EQ(processes_mentioning(id), procs_before);
}

TEST_F(ExecTest, RunSharesAnotherContainersNetworkPidAndIpc) {
  run_detached({"--net", "none", "--name", "owner", "busybox", "sh", "-c",
                "ip link add dummy7 type dummy 2>/dev/null; ip link set lo up; exec sleep 100"});
  const auto r = nrun({"run", "--rm", "--net", "container:owner", "--pid", "container:owner", "--ipc",
                       "container:owner", "busybox", "sh", "-c", "ps; readlink /proc/1/ns/net; readlink /proc/self/ns/net"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "sleep 100")) << "the owner's PID 1 is visible\n" << r;
  const auto ns = lines(r.out);
  ASSERT_GE(ns.size(), 2u);
  EXPECT_EQ(ns[ns.size() - 1], ns[ns.size() - 2]) << "same network namespace\n" << r;
  const auto owner_net = nrun({"exec", "owner", "readlink", "/proc/self/ns/net"});
  EXPECT_EQ(owner_net.out, ns.back() + "\n");
}

TEST_F(ExecTest, RemovingANamespaceOwnerInUseNeedsForce) {
  run_detached({"--net", "none", "--name", "owner", "busybox", "sleep", "100"});
  run_detached({"--net", "container:owner", "--name", "guest", "busybox", "sleep", "100"});
  const auto refused = nrun({"rm", "owner"});
  EXPECT_EQ(refused.exit_code, 125) << refused;
  EXPECT_TRUE(contains(refused.err, "guest")) << refused;
  EXPECT_EQ(nrun({"rm", "-f", "guest"}).exit_code, 0);
  EXPECT_EQ(nrun({"rm", "-f", "owner"}).exit_code, 0);
}

TEST_F(ExecTest, SharingAStoppedContainerIsAnError) {
  run_detached({"--net", "none", "--name", "owner", "busybox", "sleep", "100"});
  ASSERT_EQ(nrun({"stop", "-t", "0", "owner"}).exit_code, 0);
  const auto r = nrun({"run", "--rm", "--net", "container:owner", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_TRUE(contains(r.err, "not running")) << r;
  EXPECT_EQ(record_ids().size(), 1u) << "the failed run left no record";
}

TEST_F(ExecTest, HostNamespaces) {
  const auto r = nrun({"run", "--rm", "--net", "host", "--uts", "host", "--pid", "host", "busybox", "sh", "-c",
                       "hostname; ps -o pid | sed -n 2p"});
  ASSERT_EQ(r.exit_code, 0) << r;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const auto l = lines(r.out);
  ASSERT_EQ(l.size(), 2u) << r;
  EXPECT_EQ(l[0], host);
  EXPECT_EQ(trim(l[1]), "1") << "the host's PID 1 is visible";
}

}  // namespace
}  // namespace nrun::it
