// Fault injection (issue 18): the real nrun under
//   strace -f -e inject=SYSCALL:error=EIO:when=N
// for `network connect`, `network disconnect` and `run -d`, one syscall
// class failed at its Nth call. Whatever fails, nrun must never die of a
// signal (a SIGSEGV of a stale netlink answer, a SIGABRT of a namespace it
// could not return from); it fails with a clear error (exit 125) or
// succeeds. After the documented recovery (`rm -f`, `gc`) nothing is left:
// no veth or other link, no nft element, no lease, no record, no cgroup;
// and the same command then succeeds.
//
// strace follows the monitor and the container too (-f): `run -d` runs a
// command that exits at once, so strace ends with them. Runs only inside
// scripts/test.sh's throwaway namespaces, like net_test.cpp.
#include <signal.h>

#include <cstring>
#include <set>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kNet = "nrit-f";
constexpr const char* kSubnet = "10.213.30.0/24";
constexpr const char* kName = "f";

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

class FaultTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (!in_throwaway_namespaces())
      GTEST_SKIP() << "changes the network namespace: only inside scripts/test.sh's namespaces";
    if (run_process({"strace", "-f", "-o", "/dev/null", "-e", "inject=getpid:error=EIO:when=1", "true"}).exit_code != 0)
      GTEST_SKIP() << "strace with syscall injection is not available (apt-get install strace; needs ptrace)";
    ASSERT_EQ(nrun({"network", "create", "--subnet", kSubnet, kNet}).exit_code, 0);
    // One container through every path first: the default bridge and the
    // chains exist from here on, so what is left later is the faults'.
    run_detached({"--name", kName, "--net", kNet, "--net", "bridge", "-p", "18090:80", "busybox", "true"});
    ASSERT_TRUE(wait_until([&] { return status_of(kName) == "exited"; }));
    ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
    links_ = link_names();
    nft_ = nft_table();
  }

  void TearDown() override {
    if (!root().empty() && !IsSkipped()) {
      nrun({"rm", "-f", kName});
      nrun({"network", "rm", kNet});
      nrun({"network", "rm", "bridge"});
    }
    NrunTest::TearDown();
  }

  // nrun args... under strace, `syscall` failed with EIO at its `when`th
  // call (in any of nrun's processes: -f).
  // `when`: strace's syntax, "3" or "2+" (the 2nd and every later call).
  RunResult traced(const std::string& syscall, const std::string& when, std::vector<std::string> args,
                   std::string* log) {
    const fs::path out = root() / "strace.log";
    std::vector<std::string> argv{"strace", "-f", "-o", out.string(), "-e", "trace=" + syscall,
                                  "-e", "inject=" + syscall + ":error=EIO:when=" + when};
    const auto n = nrun_argv(std::move(args));
    argv.insert(argv.end(), n.begin(), n.end());
    RunResult r = run_process(argv, "", 60s);
    std::error_code ec;
    *log = fs::exists(out, ec) ? read_file(out) : "";
    fs::remove(out, ec);
    return r;
  }

  // No crash, and a failure is one clear error with exit 125.
  void expect_clean(const RunResult& r, const std::string& log, const std::string& what) {
    EXPECT_FALSE(r.timed_out) << what;
    for (const int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE}) {
      EXPECT_NE(r.exit_code, 128 + sig) << what << ": killed by signal " << sig << "\n" << r;
      const std::string name = std::string("+++ killed by SIG") + sigabbrev_np(sig);
      EXPECT_FALSE(contains(log, name)) << what << ": a process " << name.substr(4) << "\n" << r << "\n" << log;
    }
    if (r.exit_code != 0) {
      EXPECT_EQ(r.exit_code, 125) << what << "\n" << r;
      EXPECT_TRUE(contains(r.err, "error: ")) << what << ": no error message\n" << r;
    }
  }

  // After `rm -f` and `gc`: nothing of the container left.
  void recover_and_check(const std::string& what, const std::string& id = "") {
    nrun({"rm", "-f", kName});  // "no such container" when the fault stopped the run early
    const RunResult gc = nrun({"gc"});
    EXPECT_EQ(gc.exit_code, 0) << what << "\n" << gc;
    EXPECT_TRUE(record_ids().empty()) << what << ": records left";
    std::set<std::string> now;
    EXPECT_TRUE(wait_until([&] { return (now = link_names()) == links_; }, 10s))
        << what << ": links before " << ::testing::PrintToString(links_) << ", after "
        << ::testing::PrintToString(now);
    EXPECT_EQ(nft_table(), nft_) << what << ": the nft table changed";
    for (const char* n : {kNet, "bridge"}) {
      const auto j = json::parse(nrun({"network", "inspect", n}).out, nullptr, false);
      EXPECT_TRUE(j.is_array() && !j.empty() && j[0]["Containers"].empty()) << what << ": lease left\n" << j.dump(2);
    }
    if (!id.empty()) EXPECT_TRUE(cgroups_of(id).empty()) << what << ": cgroup left";
  }

  std::string start_sleeper() { return run_detached({"--name", kName, "busybox", "sleep", "60"}); }

  // Each syscall class failed at each of its calls listed.
  template <class F>
  void for_each_fault(const std::vector<std::pair<std::string, std::vector<int>>>& faults, F&& one) {
    for (const auto& [syscall, whens] : faults)
      for (const int when : whens) {
        one(syscall, std::to_string(when), syscall + " failed at call " + std::to_string(when));
        if (HasFatalFailure()) return;
      }
  }

  // `run` under each fault, then recovery, then the same run again.
  void run_under_faults(const std::vector<std::pair<std::string, std::vector<int>>>& faults,
                        const std::vector<std::string>& run) {
    for_each_fault(faults, [&](const std::string& sc, const std::string& when, const std::string& what) {
      std::string log;
      const RunResult r = traced(sc, when, run, &log);
      expect_clean(r, log, "run -d, " + what);
      const std::string id = is_hex_id(trim(r.out)) ? trim(r.out) : "";
      recover_and_check("run -d, " + what, id);
      const RunResult again = nrun(run);
      EXPECT_EQ(again.exit_code, 0) << "run -d after " << what << "\n" << again;
      EXPECT_TRUE(wait_until([&] { return status_of(kName) == "exited"; })) << what;
      ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
    });
  }

  std::set<std::string> links_;
  std::string nft_;
};

// recvmsg: libnl's and libmnl's receives, two a reply (a peek, then the
// read); a stale ACK once crashed connect at calls 3 and 4. Every one of the
// first six, then every fourth, reaches the nft lookups (around 11) and the
// socket in the container (from about 25 on) in a few runs. sendmsg:
// libnl's sends (about 11 in a connect); sendto: libmnl's (nft); setns:
// opening the socket in the container (call 2, the way back, once ended in
// SIGABRT; it is retried now).
const std::vector<std::pair<std::string, std::vector<int>>> kNetFaults = {
    {"recvmsg", {1, 2, 3, 4, 5, 6, 10, 14, 18, 22, 26, 30, 34}},
    {"sendmsg", {1, 2, 3, 4, 5, 6, 9, 12}},
    {"sendto", {1, 2}},
    {"setns", {1, 2}}};
// A disconnect makes fewer exchanges, all on the host's sockets.
const std::vector<std::pair<std::string, std::vector<int>>> kDisconnectFaults = {
    {"recvmsg", {1, 2, 3, 4, 5, 6, 10}}, {"sendmsg", {1, 2, 3, 4}}, {"sendto", {1, 2}}};

TEST_F(FaultTest, NetworkConnect) {
  for_each_fault(kNetFaults, [&](const std::string& sc, const std::string& when, const std::string& what) {
    const std::string id = start_sleeper();
    std::string log;
    const RunResult r = traced(sc, when, {"network", "connect", kNet, kName}, &log);
    expect_clean(r, log, "network connect, " + what);
    recover_and_check("network connect, " + what, id);
    // The same command works afterwards.
    start_sleeper();
    const RunResult again = nrun({"network", "connect", kNet, kName});
    EXPECT_EQ(again.exit_code, 0) << "network connect after " << what << "\n" << again;
    ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
  });
}

// Every setns from the 2nd on fails: nrun cannot return from the container's
// namespace even when it retries, and must stop there with one clear error
// (not go on in the wrong namespace, not abort).
TEST_F(FaultTest, NetworkConnectThatCannotReturnFromTheNamespace) {
  const std::string id = start_sleeper();
  std::string log;
  const RunResult r = traced("setns", "2+", {"network", "connect", kNet, kName}, &log);
  expect_clean(r, log, "network connect, every setns but the first failed");
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_TRUE(contains(r.err, "cannot return to nrun's own network namespace")) << r;
  recover_and_check("network connect, every setns but the first failed", id);
}

TEST_F(FaultTest, NetworkDisconnect) {
  for_each_fault(kDisconnectFaults, [&](const std::string& sc, const std::string& when, const std::string& what) {
    const std::string id = start_sleeper();
    ASSERT_EQ(nrun({"network", "connect", kNet, kName}).exit_code, 0);
    std::string log;
    const RunResult r = traced(sc, when, {"network", "disconnect", kNet, kName}, &log);
    expect_clean(r, log, "network disconnect, " + what);
    recover_and_check("network disconnect, " + what, id);
    start_sleeper();
    ASSERT_EQ(nrun({"network", "connect", kNet, kName}).exit_code, 0);
    const RunResult again = nrun({"network", "disconnect", kNet, kName});
    EXPECT_EQ(again.exit_code, 0) << "network disconnect after " << what << "\n" << again;
    ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
  });
}

TEST_F(FaultTest, RunDetached) {
  // Two networks and a published port: veths, leases and a DNAT element.
  // The command is `true` here and below: strace -f waits for every process it follows.
  run_under_faults(kNetFaults, {"run", "-d", "--name", kName, "--net", kNet, "--net", "bridge", "-p", "18091:80",
                                "busybox", "true"});
}


// The file-system and process calls of a start, each failed at a few of its
// first calls, in the CLI, the monitor or init: the record, the name index,
// the cgroup directories, the overlay and /proc mounts, the clone of init.
const std::vector<std::pair<std::string, std::vector<int>>> kStartFaults = {
    {"mount", {1, 2, 3, 6, 10}},  {"clone3", {1, 2}},  {"openat", {1, 3, 10, 30, 60}}, {"rename", {1, 2, 3}},
    {"fsync", {1, 2}},            {"flock", {1, 2, 3}}, {"write", {1, 2, 5}},          {"mkdir", {1, 2, 3, 6}},
    {"unlink", {1, 2}},           {"symlink", {1}}};

TEST_F(FaultTest, RunDetachedFileAndProcessCalls) {
  run_under_faults(kStartFaults, {"run", "-d", "--name", kName, "--net", kNet, "-p", "18092:80", "busybox", "true"});
}

// rm -f of a running container, its removal calls failed: a failed rm says
// so, and a second rm -f (then gc) still removes everything.
TEST_F(FaultTest, RmForceOfARunningContainer) {
  const std::vector<std::pair<std::string, std::vector<int>>> faults = {
      {"unlink", {1, 2, 3}}, {"rmdir", {1, 2, 3}}, {"rename", {1, 2}}, {"flock", {1, 2, 3}},
      {"openat", {1, 5, 20}}, {"sendto", {1, 2}},  {"recvmsg", {1, 3}}};
  for_each_fault(faults, [&](const std::string& sc, const std::string& when, const std::string& what) {
    const std::string id = run_detached({"--name", kName, "--net", kNet, "-p", "18093:80", "busybox", "sleep", "60"});
    std::string log;
    const RunResult r = traced(sc, when, {"rm", "-f", kName}, &log);
    expect_clean(r, log, "rm -f, " + what);
    recover_and_check("rm -f, " + what, id);
  });
}

// exec into a running container, its calls failed: a clear error or the
// command's own status, and the container runs on untouched.
TEST_F(FaultTest, ExecIntoARunningContainer) {
  const std::vector<std::pair<std::string, std::vector<int>>> faults = {
      {"setns", {1, 2}}, {"clone3", {1}}, {"openat", {1, 2, 5, 10}}, {"execveat", {1}}, {"flock", {1}}};
  const std::string id = start_sleeper();
  for_each_fault(faults, [&](const std::string& sc, const std::string& when, const std::string& what) {
    std::string log;
    const RunResult r = traced(sc, when, {"exec", kName, "echo", "hi"}, &log);
    expect_clean(r, log, "exec, " + what);
    if (r.exit_code == 0) EXPECT_EQ(r.out, "hi\n") << what;
    EXPECT_EQ(status_of(kName), "running") << what;
    const RunResult again = nrun({"exec", kName, "echo", "hi"});
    EXPECT_EQ(again.out, "hi\n") << "exec after " << what << "\n" << again;
  });
  recover_and_check("exec", id);
}

}  // namespace
}  // namespace nrun::it
