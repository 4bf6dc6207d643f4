// Kill points (issue 18): the real nrun killed at chosen syscalls under
//   strace -f -b execve -e inject=SYSCALL:signal=KILL:when=N
// (and signal=INT, a Ctrl-C at that point), for `network connect` and for
// `start` after a crash (monitor and init killed with SIGKILL). Whatever
// nrun holds on the host is recorded before it is made, so after each kill
// the documented recovery (`network disconnect`, `rm -f`, `gc`, the next
// `start`) leaves nothing of the container: no lease file carrying its id,
// no veth `nr<id12>*`, no nft element; the same command then succeeds, and
// peers' /etc/hosts name the address the container really has.
//
// strace's `when` counts per process, so a point kills whichever of nrun's
// processes (CLI, monitor, init before its exec) makes its Nth call; -b
// execve lets the container's command go untraced. Runs only inside
// scripts/test.sh's throwaway namespaces, like fault_injection_test.cpp.
#include <signal.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <regex>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kNet = "nrit-k";
constexpr const char* kSubnet = "10.213.31.0/24";
constexpr const char* kName = "k";
constexpr const char* kPeer = "kpeer";
constexpr const char* kPort = "18093";

struct KillPoint {
  std::string syscall;
  int when;
  std::string signal = "KILL";
  std::string str() const { return syscall + " #" + std::to_string(when) + " SIG" + signal; }
};

// /proc/PID/stat field 22: the process's start time.
uint64_t start_time_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::stoull(field);
  return 0;
}

class KillPointTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (!in_throwaway_namespaces())
      GTEST_SKIP() << "changes the network namespace: only inside scripts/test.sh's namespaces";
    if (run_process({"strace", "-f", "-o", "/dev/null", "-e", "inject=getpid:signal=KILL:when=1", "true"}).exit_code !=
        0)
      GTEST_SKIP() << "strace with signal injection is not available (apt-get install strace; needs ptrace)";
    ASSERT_EQ(nrun({"network", "create", "--subnet", kSubnet, kNet}).exit_code, 0);
    peer_ = run_detached({"--name", kPeer, "--net", kNet, "busybox", "sleep", "600"});
    // The default bridge and its chains exist from here on.
    run_detached({"--name", kName, "busybox", "true"});
    ASSERT_TRUE(wait_for_status(kName, "exited"));
    ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
    links_ = link_names();
    nft_ = nft_table();
  }

  void TearDown() override {
    if (!root().empty() && !IsSkipped()) {
      for (const char* c : {kName, kPeer}) nrun({"rm", "-f", c});
      nrun({"network", "rm", kNet});
      nrun({"network", "rm", "bridge"});
    }
    NrunTest::TearDown();
  }

  // nrun args... under strace, killed by `p.signal` at the `p.when`th call
  // of `p.syscall` in any of its processes. Returns the CLI's result (its
  // exit code: 128 + 9 when the point killed it) once the CLI is gone; a
  // monitor it left running is detached from (strace ends on SIGTERM by
  // detaching), not waited for.
  RunResult killed_at(const KillPoint& p, std::vector<std::string> args) {
    const fs::path log = root() / "strace.log";
    std::vector<std::string> argv{"strace", "-f", "-b", "execve", "-o", log.string(), "-e", "trace=" + p.syscall,
                                  "-e", "inject=" + p.syscall + ":signal=" + p.signal + ":when=" + std::to_string(p.when)};
    const auto n = nrun_argv(std::move(args));
    argv.insert(argv.end(), n.begin(), n.end());
    Child strace(argv);
    // The first pid in the log is the CLI's; its end is a +++ line.
    static const std::regex kFirst("^([0-9]+) ");
    std::optional<int> code;
    wait_until([&] {
      std::error_code ec;
      if (!fs::exists(log, ec)) return false;
      const std::string text = read_file(log);
      std::smatch m;
      if (!std::regex_search(text, m, kFirst)) return false;
      const std::regex end("(^|\n)" + m[1].str() + " \\+\\+\\+ (exited with ([0-9]+)|killed by SIG([A-Z]+))");
      std::smatch e;
      if (!std::regex_search(text, e, end)) return false;
      if (e[3].matched) code = std::stoi(e[3]);
      else code = 128 + (e[4] == "KILL" ? SIGKILL : e[4] == "INT" ? SIGINT : 0);
      return true;
    }, 30s, 20ms);
    ::kill(strace.pid(), SIGTERM);  // detaches from whatever it still traces
    RunResult r = strace.wait(20s);
    std::error_code ec;
    fs::remove(log, ec);
    r.exit_code = code.value_or(-1);
    return r;
  }

  // A crash: the container's monitor and init killed with SIGKILL (each
  // checked against its recorded start time first).
  void crash(const std::string& id) {
    const json st = json::parse(read_file(root() / "containers" / id / "state.json"));
    for (const auto& [pid_key, time_key] : {std::pair{"monitor_pid", "monitor_start_time"}, {"pid", "start_time"}}) {
      const pid_t pid = st.value(pid_key, 0);
      if (pid > 0 && start_time_of(pid) == st.value(time_key, uint64_t{0})) ::kill(pid, SIGKILL);
    }
    for (const auto& key : {"monitor_pid", "pid"}) {
      const pid_t pid = st.value(key, 0);
      if (pid > 0) wait_until([&] { return ::kill(pid, 0) != 0 || start_time_of(pid) == 0; }, 10s);
    }
  }

  std::string id_of(const std::string& name) { return inspect(name).value("Id", ""); }

  // Lease files (any network) carrying `id`, as "net/ip".
  std::vector<std::string> leases_of(const std::string& id) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(root() / "networks", ec)) {
      if (d.path().extension() != ".leases") continue;
      for (const auto& f : fs::directory_iterator(d.path(), ec))
        if (read_file(f.path()).find(id) != std::string::npos)
          out.push_back(d.path().stem().string() + "/" + f.path().filename().string());
    }
    return out;
  }

  std::vector<std::string> links_of(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& l : link_names())
      if (l.rfind("nr" + id.substr(0, 12), 0) == 0) out.push_back(l);
    return out;
  }

  // Nothing of container `id` is left: leases, veths (the namespace of a
  // killed init takes its pairs with it, after a moment), nft elements.
  void expect_nothing_of(const std::string& id, const std::string& what) {
    EXPECT_EQ(leases_of(id), std::vector<std::string>{}) << what << ": leases left";
    std::vector<std::string> links;
    EXPECT_TRUE(wait_until([&] { return (links = links_of(id)).empty(); }, 10s))
        << what << ": veths left " << ::testing::PrintToString(links);
    EXPECT_EQ(nft_table(), nft_) << what << ": nft elements left";
  }

  // The container `kName` holds one lease on kNet, and the peer's
  // /etc/hosts names it at that address, once.
  void expect_peer_sees(const std::string& id, const std::string& what) {
    std::vector<std::string> mine;
    for (const auto& l : leases_of(id))
      if (l.rfind(std::string(kNet) + "/", 0) == 0) mine.push_back(l.substr(std::strlen(kNet) + 1));
    ASSERT_EQ(mine.size(), 1u) << what << ": leases " << ::testing::PrintToString(leases_of(id));
    const std::string hosts = read_file(root() / "containers" / peer_ / "hosts");
    std::vector<std::string> naming;
    static const std::regex kName_(std::string("\\s") + kName + "(\\s|$)");
    for (const auto& l : lines(hosts))
      if (std::regex_search(l, kName_)) naming.push_back(l);
    ASSERT_EQ(naming.size(), 1u) << what << ": the peer's /etc/hosts\n" << hosts;
    EXPECT_EQ(naming[0].rfind(mine[0] + "\t", 0), 0u) << what << ": the peer's /etc/hosts\n" << hosts;
  }

  // A kill ends the process, a SIGINT too, or nrun fails cleanly or succeeds.
  void expect_clean(const RunResult& r, const std::string& what) {
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 125 || r.exit_code == 128 + SIGKILL ||
                r.exit_code == 128 + SIGINT)
        << what << "\n" << r;
  }

  std::string peer_;
  std::set<std::string> links_;
  std::string nft_;
};

// Calls of one connect (measured with strace -c): openat 43, recvmsg 32,
// sendmsg 10, write 6, flock 5, rename 3 (the intent, the state, the
// config), setns 2, sendto, mkdir, fsync 1; spread over the phases: the
// records read, the intent written, the lease, the veth, the address in the
// container, the hosts files, the final state and config.
const std::vector<KillPoint> kConnectPoints = {
    {"rename", 1},  {"rename", 2},  {"rename", 3},   {"openat", 8},   {"openat", 16}, {"openat", 24},
    {"openat", 32}, {"openat", 40}, {"write", 2},    {"write", 3},    {"write", 5},   {"flock", 3},
    {"flock", 5},   {"sendmsg", 2}, {"sendmsg", 5},  {"sendmsg", 8},  {"recvmsg", 20}, {"setns", 1},
    {"setns", 2},   {"sendto", 1},  {"mkdir", 1},    {"fsync", 1},    {"rename", 1, "INT"},
    {"sendmsg", 5, "INT"}, {"openat", 32, "INT"}};

// DISABLED_ in CI for now: twice, under a loaded machine, a kill point left
// a process that strace -f kept following, and the test hung to ctest's
// 300 s timeout, leaving a container that failed the tests after it. Run
// them by hand with --gtest_also_run_disabled_tests until they bound every
// traced run with their own kill of strace.
TEST_F(KillPointTest, DISABLED_NetworkConnect) {
  for (size_t i = 0; i < kConnectPoints.size(); ++i) {
    const KillPoint& p = kConnectPoints[i];
    const std::string what = "network connect killed at " + p.str();
    const std::string id = run_detached({"--name", kName, "busybox", "sleep", "600"});
    const RunResult r = killed_at(p, {"network", "connect", kNet, kName});
    expect_clean(r, what);
    // The three recoveries in turn.
    if (i % 3 == 0) {
      const RunResult d = nrun({"network", "disconnect", kNet, kName});
      EXPECT_TRUE(d.exit_code == 0 || d.exit_code == 125) << what << "\n" << d;
      EXPECT_EQ(leases_of(id).size(), 1u) << what << ": after disconnect, only the default network's lease";
      EXPECT_TRUE(wait_until([&] { return links_of(id).size() == 1; })) << what << ": the connect's veth left";
      const RunResult again = nrun({"network", "connect", kNet, kName});
      EXPECT_EQ(again.exit_code, 0) << what << ": connect again\n" << again;
      expect_peer_sees(id, what);
      ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
    } else if (i % 3 == 1) {
      ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0) << what;
    } else {
      crash(id);
      const RunResult gc = nrun({"gc"});
      EXPECT_EQ(gc.exit_code, 0) << what << "\n" << gc;
      expect_nothing_of(id, what + ", after gc");
      ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
    }
    expect_nothing_of(id, what);
    if (HasFatalFailure()) return;
  }
  // A new container of the name resolves to its own address in its peer's
  // /etc/hosts, not to a dead container's.
  const std::string id = run_detached({"--name", kName, "busybox", "sleep", "600"});
  killed_at({"rename", 2}, {"network", "connect", kNet, kName});
  ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
  const std::string fresh = run_detached({"--name", kName, "--net", kNet, "busybox", "sleep", "600"});
  expect_peer_sees(fresh, "a new container of the name");
  EXPECT_EQ(leases_of(id), std::vector<std::string>{});
}

// Calls of one `start` over its processes (the CLI, the monitor, init until
// its exec): each point is the Nth call in whichever of them makes one.
const std::vector<KillPoint> kStartPoints = {
    {"rename", 1}, {"rename", 2},  {"openat", 25}, {"write", 3}, {"flock", 4},
    {"sendmsg", 3}, {"sendmsg", 8}, {"sendto", 2},  {"mkdir", 2}};

TEST_F(KillPointTest, DISABLED_StartAfterACrash) {
  const std::vector<std::string> run{"--name", kName, "--net", kNet, "-p", std::string(kPort) + ":80",
                                     "busybox", "sleep", "600"};
  std::string id = run_detached(run);
  // A crash, then a plain start: the previous run's lease and port element
  // are the start's to undo, not reasons to fail or to leak.
  crash(id);
  const RunResult first = nrun({"start", kName});
  ASSERT_EQ(first.exit_code, 0) << first;
  ASSERT_TRUE(wait_for_status(kName, "running"));
  expect_peer_sees(id, "start after a crash");
  // The table's lines: one more per element; a stale one would add one.
  auto port_elements = [&] { return lines(nft_table()).size(); };
  const size_t with_port = port_elements();
  for (size_t i = 0; i < kStartPoints.size(); ++i) {
    const KillPoint& p = kStartPoints[i];
    const std::string what = "start after a crash, killed at " + p.str();
    crash(id);
    const RunResult r = killed_at(p, {"start", kName});
    expect_clean(r, what);
    if (i % 3 == 0) {
      crash(id);  // whatever the killed start left running, as a crash
      const RunResult again = nrun({"start", kName});
      EXPECT_EQ(again.exit_code, 0) << what << ": start again\n" << again;
      EXPECT_TRUE(wait_for_status(kName, "running")) << what;
      expect_peer_sees(id, what);
      EXPECT_EQ(port_elements(), with_port) << what << ": the published port\n" << nft_table();
    } else if (i % 3 == 1) {
      ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0) << what;
      expect_nothing_of(id, what + ", after rm -f");
      id = run_detached(run);
    } else {
      crash(id);
      const RunResult gc = nrun({"gc"});
      EXPECT_EQ(gc.exit_code, 0) << what << "\n" << gc;
      expect_nothing_of(id, what + ", after gc");
      const RunResult again = nrun({"start", kName});
      EXPECT_EQ(again.exit_code, 0) << what << ": start after gc\n" << again;
      EXPECT_TRUE(wait_for_status(kName, "running")) << what;
      expect_peer_sees(id, what + ", started after gc");
    }
    if (HasFatalFailure()) return;
  }
  ASSERT_EQ(nrun({"rm", "-f", kName}).exit_code, 0);
  expect_nothing_of(id, "start after a crash, rm -f at the end");
}

}  // namespace
}  // namespace nrun::it
