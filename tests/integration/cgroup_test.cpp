// Resource limits end to end on this host's cgroups (v1 here; the checks
// read either hierarchy's files): OOM kills, the pids limit, the CPU quota,
// cpusets, `nrun update`, `nrun stats`, bad limits, and cgroups that go away.
#include "runtime/cgroup.hpp"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::optional<uint64_t> read_number(const fs::path& p) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  const std::string s = trim(read_file(p));
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return std::nullopt;
  return std::stoull(s);
}

std::optional<uint64_t> read_key(const fs::path& p, const std::string& key) {
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  for (const auto& line : lines(read_file(p)))
    if (line.rfind(key + " ", 0) == 0) return std::stoull(line.substr(key.size() + 1));
  return std::nullopt;
}

class CgroupTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (IsSkipped()) return;
    layout_ = runtime::host_cgroup_layout();
    if (layout_.version == runtime::CgroupVersion::none) GTEST_SKIP() << "no cgroup hierarchy mounted";
  }

  void TearDown() override {
    NrunTest::TearDown();  // rm -f of every container, leftover checks
    // No cgroup of any container of this test is left, on any hierarchy.
    for (const auto& id : ids_)
      for (const auto& dir : nrun_dirs(id)) EXPECT_FALSE(fs::exists(dir)) << "cgroup left behind: " << dir;
  }

  std::string track(const std::string& id) {
    ids_.insert(id);
    return id;
  }

  // Where nrun puts container `id` on each hierarchy of this host.
  std::vector<fs::path> nrun_dirs(const std::string& id) const {
    const auto j = runtime::make_container_cgroup(layout_, id)->to_json();
    std::vector<fs::path> out;
    if (j["driver"] == "v1")
      for (const auto& [c, p] : j["paths"].items()) out.emplace_back(p.get<std::string>());
    else
      out.emplace_back(j["path"].get<std::string>());
    return out;
  }

  nlohmann::json cgroup_record(const std::string& id) {
    return nlohmann::json::parse(read_file(root() / "containers" / id / "state.json"))["cgroup"];
  }

  // The container's directory for `controller` (v1), or its only one (v2).
  fs::path cgroup_dir(const std::string& id, const std::string& controller) {
    const auto j = cgroup_record(id);
    if (!j.is_object()) return {};
    if (j["driver"] == "v2") return j["path"].get<std::string>();
    return j["paths"].value(controller, "");
  }

  bool v2() const { return layout_.version == runtime::CgroupVersion::v2; }

  uint64_t cpu_usage_ns(const std::string& id) {
    if (v2()) return read_key(cgroup_dir(id, "cpu") / "cpu.stat", "usage_usec").value_or(0) * 1000;
    return read_number(cgroup_dir(id, "cpuacct") / "cpuacct.usage").value_or(0);
  }
  std::optional<uint64_t> memory_limit(const std::string& id) {
    return read_number(cgroup_dir(id, "memory") / (v2() ? "memory.max" : "memory.limit_in_bytes"));
  }
  std::optional<uint64_t> pids_current(const std::string& id) {
    return read_number(cgroup_dir(id, "pids") / "pids.current");
  }
  std::string pids_max(const std::string& id) { return trim(read_file(cgroup_dir(id, "pids") / "pids.max")); }

  nlohmann::json stats_json(const std::string& ref) {
    const auto r = nrun({"stats", "--no-stream", "--format", "json", ref});
    EXPECT_EQ(r.exit_code, 0) << r;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r;
    return j;
  }

  runtime::CgroupLayout layout_;
  std::set<std::string> ids_;
};

// A fork bomb that keeps trying. A busybox shell whose fork fails exits, so
// the forking is done by a subshell, and PID 1 starts a new one whenever the
// last died (its own fork then has the slot the dead one freed). Pauses are
// a builtin (read -t on a fifo) that needs no fork.
const std::vector<std::string> kForker = {
    "sh", "-c",
    "mkfifo /tmp/f; exec 3<>/tmp/f; "
    "while :; do (while :; do sleep 300 & read -t 0.05 x <&3; done); read -t 0.1 x <&3; done"};

// ------------------------------------------------------------------ memory

TEST_F(CgroupTest, AllocatingPastMemoryLimitIsOomKilledExits137AndShownAsSuch) {
  // dd's 64 MiB buffer is filled from /dev/zero: every page really charged.
  const auto r = nrun({"run", "--net", "none", "--name", "hog", "-m", "32m", "busybox", "dd", "if=/dev/zero",
                       "of=/dev/null", "bs=64M", "count=1"});
  EXPECT_EQ(r.exit_code, 137) << r;
  const auto j = inspect("hog");
  ASSERT_TRUE(j.is_object());
  track(j["Id"]);
  EXPECT_EQ(j["State"]["OOMKilled"], true) << j.dump(2);
  EXPECT_EQ(j["State"]["ExitCode"], 137) << j.dump(2);
  const auto ps = nrun({"ps", "-a"});
  EXPECT_TRUE(contains(ps.out, "OOMKilled")) << ps;
  EXPECT_TRUE(cgroup_record(j["Id"]).is_null()) << "the record holds no cgroup after the exit";
}

TEST_F(CgroupTest, ShellHoldingTooMuchIsOomKilledDetached) {
  // PID 1 itself grows past the limit (a command substitution of 64 MiB).
  const std::string id = track(run_detached({"--net", "none", "--name", "grow", "-m", "32m", "busybox", "sh", "-c",
                                             "x=$(head -c 67108864 /dev/zero | tr '\\000' a); echo ${#x}"}));
  ASSERT_TRUE(wait_for_status("grow", "exited", 30s));
  const auto j = inspect("grow");
  EXPECT_EQ(j["State"]["OOMKilled"], true) << j.dump(2);
  EXPECT_EQ(j["State"]["ExitCode"], 137) << j.dump(2);
}

TEST_F(CgroupTest, WithinTheLimitNothingIsOomKilled) {
  const auto r = nrun({"run", "--net", "none", "--name", "small", "-m", "64m", "busybox", "dd", "if=/dev/zero",
                       "of=/dev/null", "bs=8M", "count=2"});
  EXPECT_EQ(r.exit_code, 0) << r;
  const auto j = inspect("small");
  track(j["Id"]);
  EXPECT_EQ(j["State"]["OOMKilled"], false) << j.dump(2);
}

// -------------------------------------------------------------------- pids

TEST_F(CgroupTest, PidsLimitStopsAForkBombAtTheLimit) {
  auto args = std::vector<std::string>{"--net", "none", "--name", "bomb", "--pids-limit", "10", "busybox"};
  args.insert(args.end(), kForker.begin(), kForker.end());
  const std::string id = track(run_detached(args));
  // The shell keeps forking; the kernel stops it at 10 tasks.
  std::optional<uint64_t> n;
  EXPECT_TRUE(wait_until([&] { return (n = pids_current(id)) == 10u; }, 15s, 5ms)) << "pids.current " << n.value_or(0);
  // Never more than the limit, while the bomb keeps trying.
  for (int i = 0; i < 10; ++i) {
    EXPECT_LE(pids_current(id).value_or(99), 10u);
    EXPECT_LE(lines(read_file(cgroup_dir(id, "pids") / "cgroup.procs")).size(), 10u);
    usleep(50'000);
  }
  const auto s = stats_json("bomb")["PIDsCurrent"].get<int>();
  EXPECT_TRUE(s == 9 || s == 10) << s;
  const auto logs = nrun({"logs", "bomb"});
  EXPECT_TRUE(contains(logs.out + logs.err, "fork")) << "the shell reports failed forks\n" << logs;
}

// --------------------------------------------------------------------- cpu

TEST_F(CgroupTest, HalfACpuHoldsABusyLoopNearFiftyPercent) {
  const std::string id = track(
      run_detached({"--net", "none", "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done"}));
  ASSERT_TRUE(wait_for_status("spin", "running"));
  usleep(300'000);  // past the start
  const uint64_t before = cpu_usage_ns(id);
  const auto t0 = Clock::now();
  usleep(3'000'000);
  const uint64_t after = cpu_usage_ns(id);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double share = static_cast<double>(after - before) / 1e9 / wall;
  EXPECT_GE(share, 0.3) << "CPU share " << share;
  EXPECT_LE(share, 0.7) << "CPU share " << share;

  const auto s = stats_json("spin");
  EXPECT_GE(s["CPUPercent"].get<double>(), 30) << s.dump();
  EXPECT_LE(s["CPUPercent"].get<double>(), 70) << s.dump();
}

TEST_F(CgroupTest, CpusetShowsInsideTheContainer) {
  const auto r = nrun({"run", "--net", "none", "--rm", "--cpuset-cpus", "0", "busybox", "grep", "Cpus_allowed_list",
                       "/proc/self/status"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(trim(r.out), "Cpus_allowed_list:\t0") << r;
}

TEST_F(CgroupTest, ContainerSeesItsCgroupAsRoot) {
  // The cgroup namespace is made after init joined its cgroup.
  const auto r = nrun({"run", "--net", "none", "--rm", "-m", "64m", "busybox", "cat", "/proc/self/cgroup"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto ls = lines(r.out);
  ASSERT_FALSE(ls.empty()) << r;
  for (const auto& l : ls) EXPECT_EQ(l.substr(l.rfind(':')), ":/") << r;
}

TEST_F(CgroupTest, ExecJoinsTheContainersCgroupOnEveryHierarchy) {
  const std::string id =
      track(run_detached({"--net", "none", "--name", "joined", "--pids-limit", "20", "busybox", "sleep", "300"}));
  // Inside its cgroup namespace an exec'd process in the container's cgroup
  // sees "/" on every hierarchy; anywhere else it would see a path with "..".
  const auto r = nrun({"exec", "joined", "cat", "/proc/self/cgroup"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto ls = lines(r.out);
  ASSERT_FALSE(ls.empty()) << r;
  for (const auto& l : ls) EXPECT_EQ(l.substr(l.rfind(':')), ":/") << r;
  // And from the host: a detached exec'd process is listed in every
  // directory of the container's cgroup, next to init.
  ASSERT_EQ(nrun({"exec", "-d", "joined", "sleep", "300"}).exit_code, 0);
  for (const auto& d : nrun_dirs(id))
    EXPECT_TRUE(wait_until([&] { return lines(read_file(d / "cgroup.procs")).size() == 2u; }, 5s)) << d;
}

// ------------------------------------------------------------------ update

TEST_F(CgroupTest, UpdateRaisesLimitsOfARunningContainer) {
  auto args = std::vector<std::string>{"--net", "none", "--name", "grow", "--pids-limit", "5", "-m", "32m", "busybox"};
  args.insert(args.end(), kForker.begin(), kForker.end());
  const std::string id = track(run_detached(args));
  ASSERT_TRUE(wait_until([&] { return pids_current(id) == 5u; }, 15s, 5ms)) << pids_current(id).value_or(0);

  const auto u = nrun({"update", "--pids-limit", "20", "--memory", "64m", "grow"});
  ASSERT_EQ(u.exit_code, 0) << u;
  EXPECT_EQ(trim(u.out), "grow") << u;
  EXPECT_EQ(pids_max(id), "20");
  EXPECT_EQ(memory_limit(id), 64u << 20);
  // The running shell gets past its old limit at once.
  EXPECT_TRUE(wait_until([&] { return pids_current(id) == 20u; }, 15s, 5ms)) << pids_current(id).value_or(0);

  // Kept in the configuration, as inspect shows.
  const auto res = inspect("grow")["Config"]["resources"];
  EXPECT_EQ(res["pids_limit"], 20) << res.dump();
  EXPECT_EQ(res["memory"], 64 << 20) << res.dump();
  EXPECT_EQ(stats_json("grow")["MemLimitBytes"], 64 << 20);
}

TEST_F(CgroupTest, UpdateOfAStoppedContainerAppliesAtItsNextStart) {
  const std::string id =
      track(run_detached({"--net", "none", "--name", "later", "-m", "32m", "busybox", "sleep", "300"}));
  ASSERT_EQ(nrun({"stop", "-t", "0", "later"}).exit_code, 0);
  ASSERT_EQ(nrun({"update", "-m", "48m", "later"}).exit_code, 0);
  ASSERT_EQ(nrun({"start", "later"}).exit_code, 0);
  ASSERT_TRUE(wait_for_status("later", "running"));
  EXPECT_EQ(memory_limit(id), 48u << 20);
}

TEST_F(CgroupTest, UpdateRejectsBadLimitsAndChangesNothing) {
  const std::string id =
      track(run_detached({"--net", "none", "--name", "keep", "--pids-limit", "7", "busybox", "sleep", "300"}));
  expect_usage_error(nrun({"update", "--pids-limit", "0", "keep"}), "update --pids-limit 0");
  expect_usage_error(nrun({"update", "--memory", "lots", "keep"}), "update --memory lots");
  expect_usage_error(nrun({"update", "keep"}), "update without flags");
  EXPECT_EQ(pids_max(id), "7");
  EXPECT_EQ(inspect("keep")["Config"]["resources"]["pids_limit"], 7);
}

TEST_F(CgroupTest, ExecJoinsTheContainersCgroup) {
  const std::string id = track(run_detached({"--net", "none", "--name", "host", "busybox", "sleep", "300"}));
  ASSERT_EQ(pids_current(id), 1u);
  Child exec = nrun_async({"exec", "host", "sleep", "2"});
  EXPECT_TRUE(wait_until([&] { return pids_current(id) == 2u; }, 10s)) << pids_current(id).value_or(0);
  const auto r = exec.wait(20s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(wait_until([&] { return pids_current(id) == 1u; }, 10s));
}

// ------------------------------------------------------------------- stats

TEST_F(CgroupTest, StatsTableAndJson) {
  const std::string id =
      track(run_detached({"--net", "none", "--name", "seen", "-m", "32m", "busybox", "sleep", "300"}));
  const auto t = nrun({"stats", "--no-stream"});
  ASSERT_EQ(t.exit_code, 0) << t;
  const auto ls = lines(t.out);
  ASSERT_EQ(ls.size(), 2u) << t;
  EXPECT_TRUE(contains(ls[0], "CPU %") && contains(ls[0], "MEM USAGE / LIMIT") && contains(ls[0], "PIDS")) << t;
  EXPECT_TRUE(contains(ls[1], id.substr(0, 12)) && contains(ls[1], "seen") && contains(ls[1], "/ 32MiB")) << t;

  const auto j = stats_json("seen");
  EXPECT_EQ(j["Name"], "seen");
  EXPECT_EQ(j["MemLimitBytes"], 32 << 20);
  EXPECT_EQ(j["PIDsCurrent"], 1);
  EXPECT_GT(j["MemUsageBytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["NetIO"], "0B / 0B") << "no interface but lo";
  EXPECT_EQ(nrun({"stats", "--no-stream", "no-such-container"}).exit_code, 125);
}

TEST_F(CgroupTest, StatsCountsTheContainersNetworkTraffic) {
  // On the default network: three pings to the gateway, then idle.
  track(run_detached({"--name", "talk", "busybox", "sh", "-c",
                      "ping -c 3 -W 1 $(ip route | awk '/default/ { print $3 }'); sleep 300"}));
  nlohmann::json j;
  EXPECT_TRUE(wait_until([&] {
    j = stats_json("talk");
    return j["NetRxBytes"].get<uint64_t>() > 0 && j["NetTxBytes"].get<uint64_t>() > 0;
  }, 15s, 200ms)) << j.dump();
}

// -------------------------------------------------------------- bad input

TEST_F(CgroupTest, BadLimitsAreUsageErrorsAndCreateNothing) {
  const std::vector<std::vector<std::string>> bad = {{"--memory", "0"},
                                                     {"--memory=-5m"},
                                                     {"-m", "lots"},
                                                     {"-m", "10x"},
                                                     {"-m", "1k"},
                                                     {"--memory-swap", "16m", "-m", "32m"},
                                                     {"--memory-swap", "64m"},
                                                     {"--cpus", "99"},
                                                     {"--cpus", "abc"},
                                                     {"--cpus=-1"},
                                                     {"--cpuset-cpus", "0-63"},
                                                     {"--cpuset-cpus", "x"},
                                                     {"--pids-limit", "0"},
                                                     {"--pids-limit", "-2"},
                                                     {"--cpu-shares", "1"}};
  for (auto args : bad) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    args.insert(args.begin(), {"run", "--net", "none"});
    args.insert(args.end(), {"busybox", "true"});
    const auto r = nrun(args);
    expect_usage_error(r, shown);
    EXPECT_TRUE(contains(r.err, "--") || contains(r.err, "memory")) << "names the flag: " << r;
  }
  EXPECT_TRUE(record_ids().empty());
}

// ------------------------------------------------------------ cleaning up

TEST_F(CgroupTest, CgroupExistsWhileRunningAndIsGoneAfterExitAndRm) {
  const std::string id = track(
      run_detached({"--net", "none", "--name", "tidy", "-m", "32m", "--pids-limit", "20", "busybox", "sleep", "300"}));
  const auto rec = cgroup_record(id);
  ASSERT_TRUE(rec.is_object()) << rec.dump();
  std::vector<fs::path> dirs = nrun_dirs(id);
  for (const auto& d : dirs) {
    ASSERT_TRUE(fs::is_directory(d)) << d;
    EXPECT_EQ(lines(read_file(d / "cgroup.procs")).size(), 1u) << d;
  }

  ASSERT_EQ(nrun({"stop", "-t", "0", "tidy"}).exit_code, 0);
  for (const auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << "after exit: " << d;
  EXPECT_TRUE(cgroup_record(id).is_null());
  ASSERT_EQ(nrun({"rm", "tidy"}).exit_code, 0);
  for (const auto& d : dirs) EXPECT_FALSE(fs::exists(d)) << "after rm: " << d;

  // Attached and without limits: a cgroup all the same, gone at the exit.
  const auto r =
      nrun({"run", "--net", "none", "--name", "fg", "busybox", "sh", "-c", "cat /proc/self/cgroup >/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r;
  const std::string fg = track(inspect("fg")["Id"]);
  for (const auto& d : nrun_dirs(fg)) EXPECT_FALSE(fs::exists(d)) << d;
}

TEST_F(CgroupTest, RmForceOfARunningContainerRemovesItsCgroup) {
  auto args = std::vector<std::string>{"--net", "none", "--name", "busy", "--pids-limit", "8", "busybox"};
  args.insert(args.end(), kForker.begin(), kForker.end());
  const std::string id = track(run_detached(args));
  ASSERT_TRUE(wait_until([&] { return pids_current(id) == 8u; }, 15s, 5ms));
  ASSERT_EQ(nrun({"rm", "-f", "busy"}).exit_code, 0);
  for (const auto& d : nrun_dirs(id)) EXPECT_FALSE(fs::exists(d)) << d;
}

}  // namespace
}  // namespace nrun::it
