// The cgroup v1 driver against a fake tree: file names and values as
// Documentation/admin-guide/cgroup-v1/{memory,cpusets,pids}.rst and
// scheduler/sched-bwc.rst spell them.
#include <gtest/gtest.h>

#include "cgroup_fixture.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::test::FakeCgroupTree;
namespace fs = std::filesystem;

namespace {
// Far above any pid_max: nothing real is ever signalled by a test.
constexpr pid_t kFakePid = 2147483000;
const std::string kId = "c0ffee";

class CgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    // Hierarchies as this machine mounts them: nrun runs in / except on
    // memory, where it has a cgroup of its own.
    t_.dir(mount("cpuset"), {{"cpuset.cpus", "0-3\n"}, {"cpuset.mems", "0\n"}});
    for (const auto& [c, own] : own_) {
      const fs::path leaf = t_.root() / c / own / "nrun" / kId;
      t_.dir(leaf, {{"cgroup.procs", ""}});
    }
    t_.dir(leaf("cpu"), {{"cpu.cfs_period_us", "100000\n"}, {"cpu.cfs_quota_us", "-1\n"}, {"cpu.shares", "1024\n"}});
    t_.dir(leaf("cpuacct"), {{"cpuacct.usage", "0\n"}});
    t_.dir(leaf("cpuset").parent_path(), {{"cpuset.cpus", ""}, {"cpuset.mems", ""}});
    t_.dir(leaf("cpuset"), {{"cpuset.cpus", ""}, {"cpuset.mems", ""}});
    t_.dir(leaf("memory"), {{"memory.limit_in_bytes", "9223372036854771712\n"},
                            {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                            {"memory.usage_in_bytes", "0\n"},
                            {"memory.stat", "cache 0\nrss 0\n"},
                            {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}});
    t_.dir(leaf("pids"), {{"pids.max", "max\n"}, {"pids.current", "0\n"}});
  }

  fs::path mount(const std::string& c) const { return t_.root() / c; }
  fs::path leaf(const std::string& c) const { return t_.root() / c / own_.at(c) / "nrun" / kId; }
  std::string read(const std::string& c, const std::string& file) const { return FakeCgroupTree::read(leaf(c) / file); }

  CgroupLayout layout() const {
    CgroupLayout l;
    l.version = CgroupVersion::v1;
    for (const auto& [c, own] : own_) l.v1[c] = t_.root() / c / own;
    return l;
  }
  std::unique_ptr<Cgroup> cgroup() const { return make_container_cgroup(layout(), kId); }

  FakeCgroupTree t_;
  std::map<std::string, std::string> own_ = {
      {"cpu", ""}, {"cpuacct", ""}, {"cpuset", ""}, {"memory", "process_api/abc"}, {"pids", ""}};
};

Resources all_limits() {
  Resources r;
  r.memory = 32 << 20;
  r.nano_cpus = 500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0";
  r.pids_limit = 10;
  return r;
}
}  // namespace

TEST_F(CgroupV1Test, ContainerCgroupIsNrunIdBelowOwnCgroupOnEachHierarchy) {
  const auto j = cgroup()->to_json();
  EXPECT_EQ(j["driver"], "v1");
  EXPECT_EQ(j["paths"]["memory"], (t_.root() / "memory/process_api/abc/nrun" / kId).string());
  EXPECT_EQ(j["paths"]["pids"], (t_.root() / "pids/nrun" / kId).string());
  EXPECT_EQ(j["paths"].size(), 5u);
}

TEST_F(CgroupV1Test, CreateWritesEveryLimitAsTheKernelSpellsIt) {
  cgroup()->create(all_limits());
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), "33554432");
  // Docker's default when --memory-swap is unset: memory + swap = 2 x memory.
  EXPECT_EQ(read("memory", "memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(read("cpu", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(read("cpu", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(read("cpu", "cpu.shares"), "512");
  EXPECT_EQ(read("cpuset", "cpuset.cpus"), "0");
  EXPECT_EQ(read("pids", "pids.max"), "10");
}

TEST_F(CgroupV1Test, CreateWithoutLimitsTouchesNoLimitFile) {
  cgroup()->create(Resources{});
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), "9223372036854771712\n");
  EXPECT_EQ(read("cpu", "cpu.cfs_quota_us"), "-1\n");
  EXPECT_EQ(read("pids", "pids.max"), "max\n");
}

TEST_F(CgroupV1Test, NewCpusetCgroupsInheritCpusAndMems) {
  // A v1 cpuset cgroup takes no task until it has CPUs and memory nodes.
  Resources r;
  cgroup()->create(r);
  EXPECT_EQ(FakeCgroupTree::read(leaf("cpuset").parent_path() / "cpuset.cpus"), "0-3");
  EXPECT_EQ(FakeCgroupTree::read(leaf("cpuset").parent_path() / "cpuset.mems"), "0");
  EXPECT_EQ(read("cpuset", "cpuset.cpus"), "0-3");
  EXPECT_EQ(read("cpuset", "cpuset.mems"), "0");
}

TEST_F(CgroupV1Test, CreateMakesMissingDirectories) {
  fs::remove_all(t_.root() / "pids/nrun");
  cgroup()->create(Resources{});
  EXPECT_TRUE(fs::is_directory(leaf("pids")));
}

TEST_F(CgroupV1Test, ExplicitMemorySwap) {
  Resources r;
  r.memory = 32 << 20;
  r.memory_swap = 100 << 20;
  cgroup()->create(r);
  EXPECT_EQ(read("memory", "memory.memsw.limit_in_bytes"), "104857600");
  r.memory_swap = -1;
  cgroup()->update(r);
  EXPECT_EQ(read("memory", "memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(CgroupV1Test, MemswMissingIsSkippedForTheDefaultButAnErrorWhenAsked) {
  fs::remove(leaf("memory") / "memory.memsw.limit_in_bytes");  // swap accounting off
  Resources r;
  r.memory = 32 << 20;
  EXPECT_NO_THROW(cgroup()->create(r));
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), "33554432");
  r.memory_swap = 64 << 20;
  try {
    cgroup()->update(r);
    FAIL() << "an explicit --memory-swap without memsw must fail";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("memory.memsw.limit_in_bytes"), std::string::npos) << e.what();
  }
}

TEST_F(CgroupV1Test, MissingControllerIsAnErrorNamingIt) {
  CgroupLayout l = layout();
  l.v1.erase("pids");
  Resources r;
  r.pids_limit = 10;
  try {
    make_container_cgroup(l, kId)->create(r);
    FAIL() << "expected an error";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'pids'"), std::string::npos) << e.what();
  }
  // Nothing of the failed create is left behind... (files of the fake tree
  // aside: nothing was created, the leafs existed before).
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), "9223372036854771712\n");
  // Without that limit the same layout is fine.
  EXPECT_NO_THROW(make_container_cgroup(l, kId)->create(Resources{}));
}

TEST_F(CgroupV1Test, AddProcessWritesEveryHierarchy) {
  cgroup()->add_process(kFakePid);
  for (const auto& [c, own] : own_) EXPECT_EQ(read(c, "cgroup.procs"), std::to_string(kFakePid)) << c;
}

TEST_F(CgroupV1Test, EntryJoinsThroughTasksOfEachDirectoryOnce) {
  // "0" into `tasks` moves only the writer, without the global threadgroup
  // lock that a write to cgroup.procs takes (an RCU grace period each).
  std::map<std::string, fs::path> dirs = {{"cpu", leaf("cpu")}, {"cpuacct", leaf("cpu")}, {"pids", leaf("pids")}};
  const CgroupEntry e = make_cgroup_v1(dirs)->entry();
  EXPECT_EQ(e.dirs, (std::vector<std::string>{leaf("cpu").string(), leaf("pids").string()}));
  EXPECT_EQ(e.self_join, (std::vector<std::string>{(leaf("cpu") / "tasks").string(), (leaf("pids") / "tasks").string()}));
  EXPECT_TRUE(e.clone_into.empty()) << "CLONE_INTO_CGROUP is v2 only";
}

TEST_F(CgroupV1Test, JoinCgroupSelfWritesZeroIntoEachFile) {
  const CgroupEntry e = cgroup()->entry();
  ASSERT_FALSE(e.self_join.empty());
  for (const auto& f : e.self_join) FakeCgroupTree::write(f, "");
  join_cgroup_self(e);
  for (const auto& f : e.self_join) EXPECT_EQ(FakeCgroupTree::read(f), "0") << f;
}

TEST_F(CgroupV1Test, JoinCgroupSelfNamesTheFileThatFailed) {
  CgroupEntry e;
  e.self_join = {(t_.root() / "no-such-dir" / "tasks").string()};
  try {
    join_cgroup_self(e);
    FAIL() << "expected an error";
  } catch (const nrun::sys::SysError& err) {
    EXPECT_NE(std::string(err.what()).find("join cgroup '" + e.self_join[0] + "'"), std::string::npos) << err.what();
  }
}

TEST_F(CgroupV1Test, CoMountedControllersShareADirectory) {
  // cpu,cpuacct mounted together: one directory, written once.
  std::map<std::string, fs::path> dirs = {{"cpu", leaf("cpu")}, {"cpuacct", leaf("cpu")}};
  auto cg = make_cgroup_v1(dirs);
  cg->add_process(kFakePid);
  EXPECT_EQ(read("cpu", "cgroup.procs"), std::to_string(kFakePid));
}

TEST_F(CgroupV1Test, UpdateWritesEveryLimitUnsetOnesBackToDefaults) {
  auto cg = cgroup();
  cg->create(all_limits());
  Resources r;
  r.memory = 64 << 20;
  cg->update(r);
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(read("memory", "memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(read("cpu", "cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(read("cpu", "cpu.shares"), "1024");
  EXPECT_EQ(read("pids", "pids.max"), "max");
  EXPECT_EQ(read("cpuset", "cpuset.cpus"), "0") << "an unset cpuset is left as it is";
}

TEST_F(CgroupV1Test, WritesListInKernelOrder) {
  // cfs_period_us before cfs_quota_us; memory.limit_in_bytes before memsw.
  const auto w = cgroup_v1_writes(all_limits(), WriteMode::create);
  ASSERT_EQ(w.size(), 7u);
  EXPECT_EQ(w[0], (CgroupWrite{"memory", "memory.limit_in_bytes", "33554432"}));
  EXPECT_EQ(w[1], (CgroupWrite{"memory", "memory.memsw.limit_in_bytes", "67108864", true}));
  EXPECT_EQ(w[2], (CgroupWrite{"cpu", "cpu.cfs_period_us", "100000"}));
  EXPECT_EQ(w[3], (CgroupWrite{"cpu", "cpu.cfs_quota_us", "50000"}));
  EXPECT_EQ(w[4], (CgroupWrite{"cpu", "cpu.shares", "512"}));
  EXPECT_EQ(w[5], (CgroupWrite{"cpuset", "cpuset.cpus", "0"}));
  EXPECT_EQ(w[6], (CgroupWrite{"pids", "pids.max", "10"}));
}

TEST_F(CgroupV1Test, Stats) {
  FakeCgroupTree::write(leaf("cpuacct") / "cpuacct.usage", "123456789\n");
  FakeCgroupTree::write(leaf("memory") / "memory.usage_in_bytes", "10485760\n");
  FakeCgroupTree::write(leaf("memory") / "memory.stat", "cache 4096\ntotal_inactive_file 2097152\n");
  FakeCgroupTree::write(leaf("pids") / "pids.current", "3\n");
  auto s = cgroup()->stats();
  EXPECT_EQ(s.cpu_usage_ns, 123456789u);
  EXPECT_EQ(s.memory_usage, 8u << 20);
  EXPECT_FALSE(s.memory_limit.has_value()) << "v1's huge limit means none";
  EXPECT_EQ(s.pids, 3u);
  EXPECT_FALSE(s.pids_limit.has_value());
  FakeCgroupTree::write(leaf("memory") / "memory.limit_in_bytes", "33554432\n");
  FakeCgroupTree::write(leaf("pids") / "pids.max", "10\n");
  s = cgroup()->stats();
  EXPECT_EQ(s.memory_limit, 33554432u);
  EXPECT_EQ(s.pids_limit, 10u);
}

TEST_F(CgroupV1Test, OomKilledFromOomControl) {
  auto cg = cgroup();
  EXPECT_FALSE(cg->oom_killed());
  FakeCgroupTree::write(leaf("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  EXPECT_TRUE(cg->oom_killed());
  // Kernels before 4.13 have no oom_kill counter.
  FakeCgroupTree::write(leaf("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\n");
  EXPECT_TRUE(cg->oom_killed());
  FakeCgroupTree::write(leaf("memory") / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  EXPECT_FALSE(cg->oom_killed());
}

TEST_F(CgroupV1Test, RemoveDeletesTheCgroupsAndTheUnusedParentAndIsIdempotent) {
  auto cg = cgroup();
  cg->create(all_limits());
  for (const auto& [c, own] : own_) {
    FakeCgroupTree::drop_files(leaf(c));
    FakeCgroupTree::drop_files(leaf(c).parent_path());
  }
  cg->remove();
  for (const auto& [c, own] : own_) {
    EXPECT_FALSE(fs::exists(leaf(c))) << c;
    EXPECT_FALSE(fs::exists(leaf(c).parent_path())) << c;
    EXPECT_TRUE(fs::exists(t_.root() / c / own)) << "nrun's own cgroup stays: " << c;
  }
  EXPECT_NO_THROW(cg->remove());
}

TEST_F(CgroupV1Test, RemoveKeepsAParentOtherContainersUse) {
  t_.dir(t_.root() / "pids/nrun/other", {});
  auto cg = cgroup();
  for (const auto& [c, own] : own_) FakeCgroupTree::drop_files(leaf(c));
  cg->remove();
  EXPECT_FALSE(fs::exists(leaf("pids")));
  EXPECT_TRUE(fs::exists(t_.root() / "pids/nrun/other"));
}

TEST_F(CgroupV1Test, JsonRoundTrip) {
  auto cg = cgroup();
  auto again = cgroup_from_json(cg->to_json());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->to_json(), cg->to_json());
  EXPECT_EQ(cgroup_from_json(nullptr), nullptr);
  EXPECT_THROW(cgroup_from_json({{"driver", "v9"}}), nrun::sys::Error);
}

// The freezer (commit's pause): freezer.state as
// Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst spells it. On
// the fake tree the file reads back what was written, so FROZEN is reached
// at once; the wait for FREEZING to end runs on the real kernel in
// tests/integration/commit_security_test.cpp.
class CgroupV1FreezerTest : public CgroupV1Test {
 protected:
  void SetUp() override {
    CgroupV1Test::SetUp();
    own_["freezer"] = "";
    t_.dir(leaf("freezer"), {{"cgroup.procs", ""}, {"freezer.state", "THAWED\n"}});
  }
};

TEST_F(CgroupV1FreezerTest, FreezeWritesFrozenAndThawWritesThawed) {
  auto cg = cgroup();
  EXPECT_FALSE(cg->frozen());
  cg->freeze(kFreezeTimeout);
  EXPECT_EQ(read("freezer", "freezer.state"), "FROZEN");
  EXPECT_TRUE(cg->frozen());
  cg->thaw();
  EXPECT_EQ(read("freezer", "freezer.state"), "THAWED");
  EXPECT_FALSE(cg->frozen());
  EXPECT_NO_THROW(cg->thaw()) << "idempotent";
}

TEST_F(CgroupV1FreezerTest, AnUnexpectedStateFailsAndLeavesItThawed) {
  // /dev/null reads back nothing: neither FROZEN nor FREEZING.
  fs::remove(leaf("freezer") / "freezer.state");
  fs::create_symlink("/dev/null", leaf("freezer") / "freezer.state");
  try {
    cgroup()->freeze(kFreezeTimeout);
    FAIL() << "expected an error";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected freezer.state"), std::string::npos) << e.what();
  }
}

TEST_F(CgroupV1FreezerTest, NoFreezerHierarchyIsAClearError) {
  CgroupLayout l = layout();
  l.v1.erase("freezer");
  auto cg = make_container_cgroup(l, kId);
  try {
    cg->freeze(kFreezeTimeout);
    FAIL() << "expected an error";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("freezer hierarchy is not mounted"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(cg->thaw()) << "nothing to thaw";
  EXPECT_FALSE(cg->frozen());
}

TEST_F(CgroupV1FreezerTest, CreateAndEntryIncludeTheFreezer) {
  auto cg = cgroup();
  cg->create(Resources{});
  const auto e = cg->entry();
  EXPECT_NE(std::find(e.self_join.begin(), e.self_join.end(), (leaf("freezer") / "tasks").string()),
            e.self_join.end());
}

TEST_F(CgroupV1FreezerTest, ScopedFreezeThawsOnEveryPathAndHoldsSignalsMeanwhile) {
  auto cg = cgroup();
  try {
    ScopedFreeze frozen(*cg);
    EXPECT_EQ(read("freezer", "freezer.state"), "FROZEN");
    sigset_t now;
    sigprocmask(SIG_SETMASK, nullptr, &now);
    EXPECT_TRUE(sigismember(&now, SIGINT) && sigismember(&now, SIGTERM)) << "Ctrl-C must not skip the thaw";
    throw std::runtime_error("copy failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read("freezer", "freezer.state"), "THAWED");
  sigset_t after;
  sigprocmask(SIG_SETMASK, nullptr, &after);
  EXPECT_FALSE(sigismember(&after, SIGINT)) << "the signal mask is restored";
}

TEST_F(CgroupV1FreezerTest, ScopedFreezeThatFailsRestoresTheSignalMask) {
  CgroupLayout l = layout();
  l.v1.erase("freezer");
  auto cg = make_container_cgroup(l, kId);
  EXPECT_THROW(ScopedFreeze frozen(*cg), nrun::sys::Error);
  sigset_t after;
  sigprocmask(SIG_SETMASK, nullptr, &after);
  EXPECT_FALSE(sigismember(&after, SIGINT));
}
