// Detached containers and their life: ps, inspect, logs, stop, kill, start,
// rm, prune, and many runs at once. Containers run with --net none: these
// test the runtime, not the default bridge network (RunTest.DefaultNetwork
// covers that path).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <set>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using LifecycleTest = NrunTest;

std::string name_of(const nlohmann::json& j) {
  std::string n = j.value("Name", "");
  if (!n.empty() && n[0] == '/') n.erase(0, 1);  // Docker's "/name"
  return n;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool pid_alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// A container that prints to both streams, then idles; SIGTERM ends it with 7.
const std::vector<std::string> kChatty = {
    "busybox", "sh", "-c", "echo hello; echo oops >&2; trap 'exit 7' TERM; while true; do sleep 1; done"};

TEST_F(LifecycleTest, DetachedRunInspectLogsStopStartRm) {
  std::vector<std::string> args{"--net", "none", "--name", "d1"};
  args.insert(args.end(), kChatty.begin(), kChatty.end());
  const std::string id = run_detached(args);
  ASSERT_TRUE(is_hex_id(id));

  // inspect
  auto j = inspect("d1");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["Id"], id);
  EXPECT_EQ(name_of(j), "d1");
  EXPECT_EQ(j["State"]["Status"], "running") << j.dump(2);
  const int pid = j["State"]["Pid"].get<int>();
  EXPECT_TRUE(pid_alive(pid)) << j.dump(2);
  EXPECT_EQ(inspect(id.substr(0, 12))["Id"], id) << "a short id resolves";

  // logs
  RunResult logs;
  EXPECT_TRUE(wait_until([&] {
    logs = nrun({"logs", "d1"});
    return contains(logs.out + logs.err, "hello") && contains(logs.out + logs.err, "oops");
  })) << logs;
  EXPECT_TRUE(contains(logs.out, "hello")) << "stdout goes to stdout\n" << logs;

  // ps
  const auto ps = nrun({"ps"});
  EXPECT_EQ(ps.exit_code, 0) << ps;
  EXPECT_TRUE(contains(ps.out, "d1")) << ps;
  const auto q = nrun({"ps", "-q"});
  const auto qs = lines(q.out);
  ASSERT_EQ(qs.size(), 1u) << q;
  EXPECT_EQ(id.rfind(trim(qs[0]), 0), 0u) << "ps -q prints (a prefix of) the id\n" << q;

  // stop: SIGTERM, handled
  const auto t0 = Clock::now();
  const auto stop = nrun({"stop", "-t", "10", "d1"});
  EXPECT_EQ(stop.exit_code, 0) << stop;
  EXPECT_LT(Clock::now() - t0, 8s) << "stop waited for the timeout though the container exited on SIGTERM";
  j = inspect("d1");
  EXPECT_EQ(j["State"]["Status"], "exited") << j.dump(2);
  EXPECT_EQ(j["State"]["ExitCode"], 7) << j.dump(2);
  EXPECT_FALSE(contains(nrun({"ps"}).out, "d1")) << "ps without -a lists running containers only";
  EXPECT_TRUE(contains(nrun({"ps", "-a"}).out, "d1"));

  // start again
  const auto start = nrun({"start", "d1"});
  EXPECT_EQ(start.exit_code, 0) << start;
  EXPECT_TRUE(wait_for_status("d1", "running")) << inspect("d1").dump(2);
  j = inspect("d1");
  const int pid2 = j["State"]["Pid"].get<int>();
  EXPECT_TRUE(pid_alive(pid2));
  EXPECT_TRUE(wait_until([&] { return contains(nrun({"logs", "d1"}).out, "hello"); }));

  // rm refuses a running container without -f
  expect_usage_error(nrun({"rm", "d1"}), "rm of a running container");
  EXPECT_EQ(record_ids(), std::vector<std::string>{id});
  EXPECT_EQ(status_of("d1"), "running");

  const auto rm = nrun({"rm", "-f", "d1"});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_TRUE(record_ids().empty());
  EXPECT_TRUE(wait_until([&] { return !pid_alive(pid2); })) << "container process " << pid2 << " survived rm -f";
  EXPECT_EQ(nrun({"inspect", "d1"}).exit_code, 125);
}

TEST_F(LifecycleTest, StopEscalatesToSigkill) {
  // sleep as PID 1 has no SIGTERM handler, so the kernel ignores SIGTERM.
  run_detached({"--net", "none", "--name", "s", "busybox", "sleep", "30"});
  const auto t0 = Clock::now();
  const auto stop = nrun({"stop", "-t", "1", "s"});
  EXPECT_EQ(stop.exit_code, 0) << stop;
  EXPECT_LT(Clock::now() - t0, 10s);
  const auto j = inspect("s");
  EXPECT_EQ(j["State"]["Status"], "exited") << j.dump(2);
  EXPECT_EQ(j["State"]["ExitCode"], 137) << j.dump(2);
}

TEST_F(LifecycleTest, KillSendsSigkillOrTheGivenSignal) {
  run_detached({"--net", "none", "--name", "k9", "busybox", "sleep", "30"});
  run_detached(
      {"--net", "none", "--name", "usr1", "busybox", "sh", "-c", "trap 'exit 5' USR1; while true; do sleep 1; done"});
  EXPECT_EQ(nrun({"kill", "k9"}).exit_code, 0);
  EXPECT_EQ(nrun({"kill", "-s", "USR1", "usr1"}).exit_code, 0);
  EXPECT_TRUE(wait_for_status("k9", "exited"));
  EXPECT_TRUE(wait_for_status("usr1", "exited"));
  EXPECT_EQ(inspect("k9")["State"]["ExitCode"], 137);
  EXPECT_EQ(inspect("usr1")["State"]["ExitCode"], 5);
  expect_usage_error(nrun({"kill", "k9"}), "kill of a stopped container");
}

TEST_F(LifecycleTest, RmFlagRemovesTheRecord) {
  const auto r = nrun({"run", "--net", "none", "--rm", "--name", "r", "busybox", "sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_TRUE(record_ids().empty());
  EXPECT_EQ(nrun({"inspect", "r"}).exit_code, 125);

  run_detached({"--net", "none", "--rm", "--name", "rd", "busybox", "sleep", "30"});
  EXPECT_EQ(nrun({"stop", "-t", "1", "rd"}).exit_code, 0);
  EXPECT_TRUE(wait_until([&] { return record_ids().empty(); })) << "run -d --rm: record kept after the exit";
}

TEST_F(LifecycleTest, LogsTailTimestampsFollow) {
  run_detached({"--net", "none", "--name", "t", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"});
  ASSERT_TRUE(wait_for_status("t", "exited"));

  const auto all = nrun({"logs", "t"});
  EXPECT_EQ(all.exit_code, 0) << all;
  EXPECT_EQ(all.out, "line1\nline2\nline3\nline4\nline5\n") << all;
  EXPECT_EQ(nrun({"logs", "--tail", "2", "t"}).out, "line4\nline5\n");
  const auto ts = nrun({"logs", "-t", "t"});
  const auto ls = lines(ts.out);
  EXPECT_EQ(ls.size(), 5u) << ts;
  const std::regex stamped(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\S* line[1-5]$)");
  for (const auto& l : ls) EXPECT_TRUE(std::regex_match(l, stamped)) << l;

  // -f follows until the container exits.
  run_detached({"--net", "none", "--name", "f", "busybox", "sh", "-c", "echo first; sleep 1; echo second"});
  const auto f = nrun({"logs", "-f", "f"}, "", 20s);
  EXPECT_EQ(f.exit_code, 0) << f;
  EXPECT_EQ(f.out, "first\nsecond\n") << f;
}

TEST_F(LifecycleTest, PsAllQuietJson) {
  const std::string live = run_detached({"--net", "none", "--name", "p1", "busybox", "sleep", "30"});
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "p2", "busybox", "true"}).exit_code, 0);

  const auto ps = nrun({"ps"});
  EXPECT_TRUE(contains(ps.out, "p1")) << ps;
  EXPECT_FALSE(contains(ps.out, "p2")) << ps;
  const auto all = nrun({"ps", "-a"});
  EXPECT_TRUE(contains(all.out, "p1") && contains(all.out, "p2")) << all;
  EXPECT_EQ(lines(nrun({"ps", "-q"}).out).size(), 1u);
  EXPECT_EQ(lines(nrun({"ps", "-aq"}).out).size(), 2u);

  // JSON: an array, or one object per line.
  const auto js = nrun({"ps", "-a", "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << js;
  std::vector<nlohmann::json> rows;
  auto whole = nlohmann::json::parse(js.out, nullptr, false);
  if (!whole.is_discarded() && whole.is_array()) {
    rows.assign(whole.begin(), whole.end());
  } else {
    for (const auto& l : lines(js.out)) {
      if (trim(l).empty()) continue;
      auto row = nlohmann::json::parse(l, nullptr, false);
      EXPECT_FALSE(row.is_discarded()) << "not JSON: " << l;
      if (!row.is_discarded()) rows.push_back(row);
    }
  }
  EXPECT_EQ(rows.size(), 2u) << js;
  const std::string dumped = nlohmann::json(rows).dump();
  EXPECT_TRUE(contains(dumped, "p1") && contains(dumped, "p2") && contains(dumped, live.substr(0, 12))) << dumped;
}

TEST_F(LifecycleTest, PruneRemovesStoppedOnly) {
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "e1", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "e2", "busybox", "true"}).exit_code, 0);
  const std::string live = run_detached({"--net", "none", "--name", "live", "busybox", "sleep", "30"});
  const auto p = nrun({"prune"});
  EXPECT_EQ(p.exit_code, 0) << p;
  EXPECT_EQ(record_ids(), std::vector<std::string>{live});
  EXPECT_EQ(status_of("live"), "running");
}

TEST_F(LifecycleTest, RmSeveral) {
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "a", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "b", "busybox", "true"}).exit_code, 0);
  const auto rm = nrun({"rm", "a", "b"});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_TRUE(record_ids().empty());
}

TEST_F(LifecycleTest, UnknownContainerIsExit125) {
  for (const auto& cmd : {"stop", "start", "kill", "logs", "inspect", "rm"})
    expect_usage_error(nrun({cmd, "no-such-container"}), cmd);
}

TEST_F(LifecycleTest, TwentyConcurrentRuns) {
  constexpr int kRuns = 20;
  std::vector<Child> kids;
  kids.reserve(kRuns);
  for (int i = 0; i < kRuns; ++i) kids.push_back(nrun_async({"run", "--net", "none", "-d", "busybox", "sleep", "30"}));
  std::set<std::string> ids;
  for (auto& k : kids) {
    const auto r = k.wait(120s);
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_FALSE(r.held_open) << r;
    const std::string id = trim(r.out);
    EXPECT_TRUE(is_hex_id(id)) << r;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(record_ids().size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(lines(nrun({"ps", "-q"}).out).size(), static_cast<size_t>(kRuns));

  std::set<std::string> names;
  for (const auto& id : ids) {
    const auto j = inspect(id);
    ASSERT_TRUE(j.is_object()) << id;
    EXPECT_EQ(j["State"]["Status"], "running") << j.dump(2);
    names.insert(name_of(j));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kRuns));
  EXPECT_FALSE(names.count(""));
}

}  // namespace
}  // namespace nrun::it

namespace nrun::it {
namespace {

// What a SIGKILLed monitor leaves: a record that says running, a cgroup.
struct Orphan {
  std::string id;
  std::vector<std::string> cgroup_dirs;
};

Orphan make_orphan(NrunTest& t, const std::function<RunResult(std::vector<std::string>)>& nrun,
                   const std::filesystem::path& root, bool remove = false) {
  Orphan o;
  std::vector<std::string> args = {"run", "-d", "--net", "none", "busybox", "sleep", "100"};
  if (remove) args.insert(args.begin() + 2, "--rm");
  const RunResult r = nrun(args);
  o.id = trim(r.out);
  const auto state = nlohmann::json::parse(read_file(root / "containers" / o.id / "state.json"));
  const nlohmann::json paths = state["cgroup"].value("paths", nlohmann::json::object());
  for (const auto& [controller, dir] : paths.items()) o.cgroup_dirs.push_back(dir.get<std::string>());
  if (state["cgroup"].contains("path")) o.cgroup_dirs.push_back(state["cgroup"]["path"].get<std::string>());
  ::kill(state["monitor_pid"].get<int>(), SIGKILL);
  ::kill(state["pid"].get<int>(), SIGKILL);
  (void)t;
  return o;
}

bool any_exists(const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(), [](const std::string& d) { return std::filesystem::exists(d); });
}

TEST_F(LifecycleTest, GcUndoesWhatAKilledMonitorLeft) {
  const Orphan o = make_orphan(*this, [&](std::vector<std::string> a) { return nrun(std::move(a)); }, root());
  ASSERT_FALSE(o.cgroup_dirs.empty());
  ASSERT_TRUE(wait_until([&] { return status_of(o.id) == "exited"; })) << "a dead pid never reads as running";
  EXPECT_TRUE(any_exists(o.cgroup_dirs)) << "nobody has undone the cgroup yet";
  const auto gc = nrun({"gc"});
  EXPECT_EQ(gc.exit_code, 0) << gc;
  EXPECT_EQ(trim(gc.out), o.id);
  EXPECT_FALSE(any_exists(o.cgroup_dirs));
  EXPECT_EQ(trim(nrun({"gc"}).out), "") << "a second gc finds nothing";
  EXPECT_EQ(nrun({"rm", o.id}).exit_code, 0);
}

TEST_F(LifecycleTest, FirstRunAfterARebootCollectsTheLastBootsContainers) {
  const Orphan o = make_orphan(*this, [&](std::vector<std::string> a) { return nrun(std::move(a)); }, root());
  ASSERT_TRUE(wait_until([&] { return status_of(o.id) == "exited"; }));
  // Pretend the store last saw another boot.
  write_file(root() / "boot_id", "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(nrun({"run", "--rm", "--net", "none", "busybox", "true"}).exit_code, 0);
  EXPECT_FALSE(any_exists(o.cgroup_dirs));
  EXPECT_EQ(inspect(o.id)["State"]["FinishedAt"].get<std::string>().empty(), false);
  EXPECT_EQ(nrun({"rm", o.id}).exit_code, 0);
}

TEST_F(LifecycleTest, AfterARebootRmContainersOfTheLastBootAreRemovedAndTornRecordsToo) {
  // A --rm container whose monitor died with the machine: removed, as its
  // monitor would have, cgroup and all.
  const Orphan o = make_orphan(*this, [&](std::vector<std::string> a) { return nrun(std::move(a)); }, root(), true);
  ASSERT_TRUE(wait_until([&] { return status_of(o.id) == "exited"; }));
  // A record torn by the crash: --rm records are written without fsync, so
  // after a crash one may be there with empty files.
  ASSERT_EQ(nrun({"run", "--net", "none", "--name", "torn", "busybox", "true"}).exit_code, 0);
  const std::string torn = inspect("torn")["Id"].get<std::string>();
  ASSERT_NE(torn, o.id);
  write_file(root() / "containers" / torn / "state.json", "");
  // Until the reboot it is skipped with a warning, not fatal to ps.
  const auto ps = nrun({"ps", "-a"});
  EXPECT_EQ(ps.exit_code, 0) << ps;
  EXPECT_EQ(ps.out.find("torn"), std::string::npos) << ps;
  EXPECT_NE(ps.err.find("container record '" + torn + "'"), std::string::npos) << ps;
  EXPECT_NE(ps.err.find(", ignoring"), std::string::npos) << ps;

  // The first run after the reboot collects both, and the torn record's
  // name is free again.
  write_file(root() / "boot_id", "00000000-0000-0000-0000-000000000000");
  const auto first = nrun({"run", "--rm", "--net", "none", "--name", "torn", "busybox", "true"});
  EXPECT_EQ(first.exit_code, 0) << first;
  EXPECT_FALSE(std::filesystem::exists(root() / "containers" / o.id)) << "the --rm container's record stays";
  EXPECT_FALSE(any_exists(o.cgroup_dirs));
  EXPECT_FALSE(std::filesystem::exists(root() / "containers" / torn)) << "the torn record stays";
  EXPECT_TRUE(record_ids().empty());
}


// init killed before it could exec the command (strace kills it at one of
// its set-up syscalls): run -d fails with 125 and leaves nothing, on the
// default network too; the same run then succeeds.
TEST_F(LifecycleTest, RunDetachedFailsWhenInitDiesDuringSetUp) {
  if (run_process({"strace", "-V"}).exit_code != 0) GTEST_SKIP() << "strace is not installed";
  const auto links_before = lines(run_process({"ip", "-o", "link"}).out).size();
  for (const std::string net : {"none", "bridge"})
    for (const std::string call : {"pivot_root", "sethostname", "execveat"}) {
      SCOPED_TRACE(call + " with --net " + net);
      std::vector<std::string> argv = {"strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + call,
                                       "-e", "inject=" + call + ":signal=KILL"};
      for (auto& a : nrun_argv({"run", "-d", "--net", net, "--name", "victim", "busybox", "sleep", "100"}))
        argv.push_back(std::move(a));
      const RunResult r = run_process(argv);
      EXPECT_EQ(r.exit_code, 125) << r;
      EXPECT_TRUE(contains(r.err, "died during set-up")) << r;
      EXPECT_EQ(r.out, "") << r;
      EXPECT_TRUE(record_ids().empty()) << "a record stays after " << r;
    }
  // The default bridge stays, as Docker's docker0 does; nothing else.
  EXPECT_LE(lines(run_process({"ip", "-o", "link"}).out).size(), links_before + 1);
  std::error_code ec;
  for (const auto& lease : std::filesystem::directory_iterator(root() / "networks" / "bridge.leases", ec))
    ADD_FAILURE() << "lease left: " << lease.path();
  const std::string id = run_detached({"--net", "none", "--name", "victim", "busybox", "sleep", "100"});
  EXPECT_EQ(nrun({"rm", "-f", id}).exit_code, 0);
}


// An emptied state.json of a running container on the default network:
// rm refuses without -f and names the way out; rm -f kills it and frees its
// cgroup, veth and lease, found by its id.
TEST_F(LifecycleTest, RmForceRemovesARunningContainerWhoseStateIsCorrupt) {
  const std::string id = run_detached({"--name", "victim", "busybox", "sleep", "100"});
  const auto state = nlohmann::json::parse(read_file(root() / "containers" / id / "state.json"));
  const int pid = state["pid"].get<int>();
  std::vector<std::string> cgroup_dirs;
  const nlohmann::json paths = state["cgroup"].value("paths", nlohmann::json::object());
  for (const auto& [controller, dir] : paths.items()) cgroup_dirs.push_back(dir.get<std::string>());
  if (state["cgroup"].contains("path")) cgroup_dirs.push_back(state["cgroup"]["path"].get<std::string>());
  const std::string veth = "nr" + id.substr(0, 12);
  ASSERT_TRUE(contains(run_process({"ip", "-o", "link"}).out, veth));
  write_file(root() / "containers" / id / "state.json", "");

  const RunResult refused = nrun({"rm", "victim"});
  expect_usage_error(refused, "rm of a corrupt record");
  EXPECT_TRUE(contains(refused.err, "rm -f")) << refused;
  const RunResult r = nrun({"rm", "-f", "victim"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(record_ids().empty());
  EXPECT_TRUE(wait_until([&] { return !pid_alive(pid); })) << "init still runs";
  EXPECT_TRUE(wait_until([&] { return !contains(run_process({"ip", "-o", "link"}).out, veth); })) << "veth left";
  EXPECT_FALSE(any_exists(cgroup_dirs)) << "cgroup left";
  std::error_code ec;
  for (const auto& lease : std::filesystem::directory_iterator(root() / "networks" / "bridge.leases", ec))
    ADD_FAILURE() << "lease left: " << lease.path();
  // The name is free again.
  const std::string again = run_detached({"--name", "victim", "--net", "none", "busybox", "sleep", "100"});
  EXPECT_EQ(nrun({"rm", "-f", again}).exit_code, 0);
}

}  // namespace
}  // namespace nrun::it
