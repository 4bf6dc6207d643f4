// Load (issue 18): many nrun processes at once on one store and one bridge.
// 50 `run -d` at once on the default network all start with 50 distinct
// addresses, and 50 `rm -f` at once all succeed and leave no veth, lease,
// nft element, cgroup or record; 20 `exec` at once into one container all
// get their own output; `prune` racing `run --rm` always exits 0; and
// hundreds of `run --rm` cycles leave every count flat (links, nft, leases,
// mounts, cgroup directories, processes, records).
//
// Makes bridges and nft rules, so it runs only inside throwaway namespaces
// (scripts/test.sh). NRUN_LOAD_CYCLES sets the number of `run --rm` cycles
// (300 by default); bench/README.md has the run times.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kContainers = 50;
constexpr int kExecs = 20;

// nrun's veths, but those that were there when the test process started:
// a test that failed before this one may have left some in the shared
// namespace, which are not this file's to count.
std::vector<std::string> veths() {
  static const std::regex kVeth("^nr[0-9a-f]{12}");
  auto all = [] {
    std::set<std::string> out;
    for (const auto& l : link_names())
      if (std::regex_search(l, kVeth)) out.insert(l);
    return out;
  };
  static const std::set<std::string> kForeign = all();
  std::vector<std::string> out;
  for (const auto& l : all())
    if (!kForeign.count(l)) out.push_back(l);
  return out;
}

// Container cgroups that hold no process: directories named by a 64-hex id
// under a directory named nrun, on every hierarchy, with an empty
// cgroup.procs. Cgroups are the host's, and other nrun runs (another
// worktree's tests) may have live containers there; a dir left empty is a
// leak, whoever's it is.
size_t container_cgroups() {
  static const std::regex kId("^[0-9a-f]{64}$");
  size_t n = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it.depth() > 4 || !it->is_directory(ec)) {
      it.disable_recursion_pending();
      continue;
    }
    const fs::path& p = it->path();
    if (p.parent_path().filename() == "nrun" && std::regex_match(p.filename().string(), kId)) {
      std::ifstream procs(p / "cgroup.procs");
      std::string first;
      if (procs && !(procs >> first)) ++n;
      it.disable_recursion_pending();
    }
  }
  return n;
}

size_t mountinfo_lines() {
  std::ifstream f("/proc/self/mountinfo");
  return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(f), {}, '\n'));
}

// Processes whose command line names `needle` (the root: monitors).
size_t processes_naming(const std::string& needle) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream f(e.path() / "cmdline");
    const std::string cmd((std::istreambuf_iterator<char>(f)), {});
    if (cmd.find(needle) != std::string::npos) ++n;
  }
  return n;
}

class LoadTest : public ThrowawayNsTest {
 protected:
  void SetUp() override {
    ThrowawayNsTest::SetUp();
    (void)veths();  // notes the veths already there
  }

  // Lease files of every network, "NET/ADDRESS".
  std::vector<std::string> leases() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(root() / "networks", ec)) {
      if (d.path().extension() != ".leases") continue;
      for (const auto& l : fs::directory_iterator(d.path(), ec))
        out.push_back(d.path().stem().string() + "/" + l.path().filename().string());
    }
    return out;
  }

  // Entries of ROOT/containers, the name index and temp dirs included.
  size_t store_entries() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(root() / "containers", ec)) (void)e, ++n;
    return n;
  }

  struct Counts {
    std::set<std::string> links;
    std::string nft;
    size_t leases = 0, mounts = 0, cgroups = 0, processes = 0, records = 0;
    bool operator==(const Counts&) const = default;
  };
  // The counts once what a previous test's containers held is gone: their
  // namespaces' cleanup deletes their veths after they are removed.
  Counts quiet_counts() const {
    wait_until([] { return veths().empty(); }, 30s);
    return counts();
  }
  Counts counts() const {
    return {link_names(), nft_table(),        leases().size(), mountinfo_lines(), container_cgroups(),
            processes_naming(root().string()), store_entries()};
  }
  static std::string str(const Counts& c) {
    return "links " + ::testing::PrintToString(c.links) + "\nleases " + std::to_string(c.leases) + ", mounts " +
           std::to_string(c.mounts) + ", cgroups " + std::to_string(c.cgroups) + ", processes " +
           std::to_string(c.processes) + ", store entries " + std::to_string(c.records) + "\nnft:\n" + c.nft;
  }
  // Waits (monitors finish their teardown after the CLI returns) for the
  // counts to come back to `before`.
  void expect_flat(const Counts& before, const std::string& what) {
    Counts now;
    EXPECT_TRUE(wait_until([&] { return (now = counts()) == before; }, 15s, 100ms))
        << what << ":\nbefore: " << str(before) << "\nafter: " << str(now);
  }
};

TEST_F(LoadTest, FiftyRunDetachedAtOnceThenFiftyRmForceAtOnce) {
  // The default network and its bridge exist from the first container on.
  ASSERT_EQ(nrun({"run", "--rm", "busybox", "true"}).exit_code, 0);
  const Counts before = quiet_counts();

  const auto t0 = Clock::now();
  std::vector<Child> starting;
  for (int i = 0; i < kContainers; ++i)
    starting.push_back(nrun_async({"run", "-d", "--name", "load" + std::to_string(i), "-p",
                                   std::to_string(18200 + i) + ":80", "busybox", "sleep", "1d"}));
  std::vector<std::string> ids;
  for (auto& c : starting) {
    const RunResult r = c.wait(180s);
    EXPECT_EQ(r.exit_code, 0) << r;
    if (is_hex_id(trim(r.out))) ids.push_back(trim(r.out));
  }
  const auto t1 = Clock::now();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kContainers));
  for (const auto& id : ids) EXPECT_EQ(status_of(id), "running") << id;

  // One lease each, no address twice: in the lease files and in inspect.
  const auto held = leases();
  EXPECT_EQ(held.size(), static_cast<size_t>(kContainers)) << ::testing::PrintToString(held);
  const json net = json::parse(nrun({"network", "inspect", "bridge"}).out, nullptr, false);
  std::set<std::string> addresses;
  ASSERT_TRUE(net.is_array() && !net.empty()) << net;
  for (const auto& [id, c] : net[0]["Containers"].items()) addresses.insert(c["IPv4Address"].get<std::string>());
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kContainers)) << net.dump(2);
  EXPECT_EQ(veths().size(), static_cast<size_t>(kContainers));
  const std::string ports = run_process({"nft", "list", "map", "inet", "nrun", "dnat_any"}).out;
  EXPECT_EQ(static_cast<size_t>(std::count(ports.begin(), ports.end(), ':')), 1u + kContainers) << ports;

  std::vector<Child> removing;
  for (const auto& id : ids) removing.push_back(nrun_async({"rm", "-f", id}));
  for (auto& c : removing) {
    const RunResult r = c.wait(180s);
    EXPECT_EQ(r.exit_code, 0) << r;
  }
  const auto t2 = Clock::now();
  std::cout << "[ load ] " << kContainers << " run -d at once: "
            << std::chrono::duration_cast<Millis>(t1 - t0).count() << " ms, " << kContainers
            << " rm -f at once: " << std::chrono::duration_cast<Millis>(t2 - t1).count() << " ms\n";

  EXPECT_EQ(record_ids(), std::vector<std::string>{});
  // The pairs go with the containers' namespaces, in the kernel's own
  // cleanup after rm returns (see net/network.hpp): wait for it.
  std::vector<std::string> left;
  EXPECT_TRUE(wait_until([&] { return (left = veths()).empty(); }, 30s, 20ms))
      << "veths left: " << ::testing::PrintToString(left);
  std::cout << "[ load ] the last veth went "
            << std::chrono::duration_cast<Millis>(Clock::now() - t2).count() << " ms after the last rm -f\n";
  EXPECT_EQ(leases(), std::vector<std::string>{});
  // Per-container elements (published ports) are gone; the bridges set
  // keeps the network's own.
  for (const char* map : {"dnat_any", "dnat_ip"}) {
    const std::string m = run_process({"nft", "list", "map", "inet", "nrun", map}).out;
    EXPECT_EQ(m.find("elements"), std::string::npos) << m;
  }
  for (const auto& id : ids) EXPECT_EQ(cgroups_of(id), std::vector<fs::path>{}) << id;
  expect_flat(before, "after 50 rm -f");
}

TEST_F(LoadTest, TwentyExecsAtOnceIntoOneContainer) {
  const std::string id = run_detached({"--net", "none", "busybox", "sleep", "1d"});
  std::vector<Child> execs;
  for (int i = 0; i < kExecs; ++i)
    execs.push_back(nrun_async({"exec", id, "sh", "-c", "echo exec-$0 $$", std::to_string(i)}));
  std::set<std::string> pids;
  for (int i = 0; i < kExecs; ++i) {
    const RunResult r = execs[i].wait(60s);
    EXPECT_EQ(r.exit_code, 0) << r;
    std::smatch m;
    const std::string out = r.out;
    EXPECT_TRUE(std::regex_match(out, m, std::regex("exec-" + std::to_string(i) + " ([0-9]+)\n"))) << r;
    if (m.size() == 2) pids.insert(m[1]);
  }
  EXPECT_EQ(pids.size(), static_cast<size_t>(kExecs)) << "each exec is its own process";
  EXPECT_EQ(status_of(id), "running");
  ASSERT_EQ(nrun({"rm", "-f", id}).exit_code, 0);
}

// A container removed by its own monitor (--rm) while prune walks the list
// is skipped: prune never fails with "no such container".
TEST_F(LoadTest, PruneRacingRunRmAlwaysSucceeds) {
  ASSERT_EQ(nrun({"run", "--rm", "busybox", "true"}).exit_code, 0);
  const Counts before = quiet_counts();
  std::string loop = "for i in $(seq 25); do";
  for (const auto& a : nrun_argv({"run", "--rm", "busybox", "true"})) loop += " '" + a + "'";
  loop += " || exit 1; done";
  std::vector<Child> runners;
  for (int i = 0; i < 3; ++i) runners.push_back(Child({"bash", "-c", loop}));
  int prunes = 0;
  std::vector<std::optional<RunResult>> done(runners.size());
  auto all_done = [&] { return std::all_of(done.begin(), done.end(), [](const auto& d) { return d.has_value(); }); };
  // Child::wait blocks, so the runners are waited for only once prune has
  // had its go: a prune per round, until every loop has finished.
  const auto deadline = Clock::now() + 120s;
  while (!all_done() && Clock::now() < deadline) {
    const RunResult p = nrun({"prune"});
    ++prunes;
    EXPECT_EQ(p.exit_code, 0) << "prune #" << prunes << ":\n" << p;
    if (p.exit_code != 0) break;
    for (size_t i = 0; i < runners.size(); ++i) {
      if (done[i]) continue;
      // Exited? (WNOWAIT: Child::wait still reaps it.)
      siginfo_t si{};
      if (::waitid(P_PID, runners[i].pid(), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
        done[i] = runners[i].wait(10s);
    }
  }
  for (size_t i = 0; i < runners.size(); ++i) {
    if (!done[i]) done[i] = runners[i].wait(60s);
    EXPECT_EQ(done[i]->exit_code, 0) << "run --rm loop " << i << ":\n" << *done[i];
  }
  std::cout << "[ load ] " << prunes << " prunes raced 75 run --rm\n";
  EXPECT_GE(prunes, 5);
  expect_flat(before, "after prune racing run --rm");
}

// `rm -f` of a container whose --rm monitor removes it meanwhile: either
// the name no longer resolves (an error, as in Docker) or the removal
// succeeds; never any other failure.
TEST_F(LoadTest, RmForceRacingTheMonitorOfRunRm) {
  ASSERT_EQ(nrun({"run", "--rm", "--net", "none", "busybox", "true"}).exit_code, 0);  // the store's own files
  const Counts before = quiet_counts();
  int raced = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string id = run_detached({"--rm", "--net", "none", "busybox", "true"});
    const RunResult r = nrun({"rm", "-f", id});
    if (r.exit_code == 0) {
      ++raced;
    } else {
      expect_usage_error(r, "rm -f of a container gone before it was named");
      EXPECT_NE(r.err.find("no such container"), std::string::npos) << r;
    }
  }
  std::cout << "[ load ] rm -f found 20 exiting --rm containers " << raced << " times\n";
  expect_flat(before, "after rm -f racing --rm");
}

TEST_F(LoadTest, RunRmCyclesLeaveEveryCountFlat) {
  const char* env = std::getenv("NRUN_LOAD_CYCLES");
  const int cycles = env && *env ? std::atoi(env) : 300;
  ASSERT_EQ(nrun({"run", "--rm", "--net", "none", "busybox", "true"}).exit_code, 0);
  const Counts before = quiet_counts();
  const auto t0 = Clock::now();
  for (int i = 0; i < cycles; ++i) {
    const RunResult r = nrun({"run", "--rm", "--net", "none", "busybox", "true"});
    ASSERT_EQ(r.exit_code, 0) << "cycle " << i << ":\n" << r;
  }
  const auto ms = std::chrono::duration_cast<Millis>(Clock::now() - t0).count();
  std::cout << "[ load ] " << cycles << " run --rm --net none cycles: " << ms << " ms (" << ms / std::max(cycles, 1)
            << " ms each)\n";
  expect_flat(before, "after " + std::to_string(cycles) + " run --rm cycles");
}

}  // namespace
}  // namespace nrun::it
