// The cgroup v2 driver against a fake tree: file names and values as
// Documentation/admin-guide/cgroup-v2.rst spells them.
#include <gtest/gtest.h>

#include "cgroup_fixture.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::test::FakeCgroupTree;
namespace fs = std::filesystem;

namespace {
constexpr pid_t kFakePid = 2147483000;  // above any pid_max: never a real process
const std::string kId = "c0ffee";

class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    // nrun runs in /user.slice/session.scope: its cgroup holds processes,
    // so the container goes below the parent, /user.slice.
    t_.dir(base(),
           {{"cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"}, {"cgroup.subtree_control", "\n"}});
    t_.dir(base() / "session.scope", {{"cgroup.procs", "1\n"}});
    t_.dir(base() / "nrun", {{"cgroup.controllers", ""}, {"cgroup.subtree_control", ""}});
    t_.dir(leaf(), {{"cgroup.procs", ""},
                    {"cgroup.controllers", ""},
                    {"memory.max", "max\n"},
                    {"memory.swap.max", "max\n"},
                    {"memory.current", "0\n"},
                    {"memory.stat", "anon 0\nfile 0\n"},
                    {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
                    {"cpu.max", "max 100000\n"},
                    {"cpu.weight", "100\n"},
                    {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
                    {"cpuset.cpus", "\n"},
                    {"pids.max", "max\n"},
                    {"pids.current", "0\n"}});
  }

  fs::path mount() const { return t_.root(); }
  fs::path base() const { return t_.root() / "user.slice"; }
  fs::path leaf() const { return base() / "nrun" / kId; }
  std::string read(const std::string& file) const { return FakeCgroupTree::read(leaf() / file); }

  CgroupLayout layout() const {
    CgroupLayout l;
    l.version = CgroupVersion::v2;
    l.v2_mount = mount();
    l.v2_own = base() / "session.scope";
    return l;
  }
  std::unique_ptr<Cgroup> cgroup() const { return make_container_cgroup(layout(), kId); }

  FakeCgroupTree t_;
};

Resources all_limits() {
  Resources r;
  r.memory = 32 << 20;
  r.nano_cpus = 1500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0-1";
  r.pids_limit = 10;
  return r;
}
}  // namespace

TEST_F(CgroupV2Test, ContainerGoesBesideNrunsOwnCgroup) {
  const auto j = cgroup()->to_json();
  EXPECT_EQ(j["driver"], "v2");
  EXPECT_EQ(j["path"], leaf().string());
  EXPECT_EQ(j["base"], base().string());
}

TEST_F(CgroupV2Test, InTheRootCgroupTheContainerGoesBelowIt) {
  // The root cgroup may hold processes and still delegate.
  CgroupLayout l = layout();
  l.v2_own = mount();
  EXPECT_EQ(make_container_cgroup(l, kId)->to_json()["path"], (mount() / "nrun" / kId).string());
}

TEST_F(CgroupV2Test, CreateWritesEveryLimitAsTheKernelSpellsIt) {
  cgroup()->create(all_limits());
  EXPECT_EQ(read("memory.max"), "33554432");
  // v2 limits swap alone: Docker's default (memory + swap = 2 x memory)
  // leaves swap = memory.
  EXPECT_EQ(read("memory.swap.max"), "33554432");
  EXPECT_EQ(read("cpu.max"), "150000 100000");
  EXPECT_EQ(read("cpu.weight"), "20");  // 1 + ((512 - 2) * 9999) / 262142
  EXPECT_EQ(read("cpuset.cpus"), "0-1");
  EXPECT_EQ(read("pids.max"), "10");
}

TEST_F(CgroupV2Test, CreateEnablesControllersDownToTheContainer) {
  cgroup()->create(Resources{});
  EXPECT_EQ(FakeCgroupTree::read(base() / "cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
  EXPECT_EQ(FakeCgroupTree::read(base() / "nrun/cgroup.subtree_control"), "+cpu +cpuset +memory +pids");
  EXPECT_EQ(read("memory.max"), "max\n") << "no limit given, none written";
}

TEST_F(CgroupV2Test, AlreadyEnabledControllersAreNotWrittenAgain) {
  FakeCgroupTree::write(base() / "cgroup.subtree_control", "cpu memory\n");
  cgroup()->create(Resources{});
  EXPECT_EQ(FakeCgroupTree::read(base() / "cgroup.subtree_control"), "+cpuset +pids");
}

TEST_F(CgroupV2Test, MissingControllerIsAnErrorNamingIt) {
  FakeCgroupTree::write(base() / "cgroup.controllers", "cpu io memory\n");
  Resources r;
  r.pids_limit = 10;
  try {
    cgroup()->create(r);
    FAIL() << "expected an error";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'pids'"), std::string::npos) << e.what();
  }
  // Without the limit: only what the host offers is enabled.
  cgroup()->create(Resources{});
  EXPECT_EQ(FakeCgroupTree::read(base() / "cgroup.subtree_control"), "+cpu +memory");
}

TEST_F(CgroupV2Test, MemorySwapVariants) {
  Resources r;
  r.memory = 32 << 20;
  r.memory_swap = 100 << 20;
  cgroup()->create(r);
  EXPECT_EQ(read("memory.swap.max"), std::to_string((100 << 20) - (32 << 20)));
  r.memory_swap = -1;
  cgroup()->update(r);
  EXPECT_EQ(read("memory.swap.max"), "max");
  r.memory_swap = 32 << 20;  // memory + swap = memory: no swap at all
  cgroup()->update(r);
  EXPECT_EQ(read("memory.swap.max"), "0");
}

TEST_F(CgroupV2Test, SwapMaxMissingIsSkippedForTheDefault) {
  fs::remove(leaf() / "memory.swap.max");  // kernel without swap accounting
  Resources r;
  r.memory = 32 << 20;
  EXPECT_NO_THROW(cgroup()->create(r));
  r.memory_swap = 64 << 20;
  EXPECT_THROW(cgroup()->update(r), nrun::sys::Error);
}

TEST_F(CgroupV2Test, UpdateWritesEveryLimitUnsetOnesBackToDefaults) {
  auto cg = cgroup();
  cg->create(all_limits());
  Resources r;
  r.pids_limit = 50;
  cg->update(r);
  EXPECT_EQ(read("pids.max"), "50");
  EXPECT_EQ(read("memory.max"), "max");
  EXPECT_EQ(read("memory.swap.max"), "max");
  EXPECT_EQ(read("cpu.max"), "max 100000");
  EXPECT_EQ(read("cpu.weight"), "100");
  EXPECT_EQ(read("cpuset.cpus"), "0-1") << "an unset cpuset is left as it is";
}

TEST_F(CgroupV2Test, AddProcess) {
  cgroup()->add_process(kFakePid);
  EXPECT_EQ(read("cgroup.procs"), std::to_string(kFakePid));
}

TEST_F(CgroupV2Test, EntryClonesIntoTheLeafAndFallsBackToCgroupProcs) {
  const CgroupEntry e = cgroup()->entry();
  EXPECT_EQ(e.dirs, std::vector<std::string>{leaf().string()});
  EXPECT_EQ(e.clone_into, leaf().string());
  EXPECT_EQ(e.self_join, std::vector<std::string>{(leaf() / "cgroup.procs").string()});
  EXPECT_TRUE(open_clone_into(e)) << "an O_PATH fd on the leaf";
  EXPECT_FALSE(open_clone_into(CgroupEntry{})) << "no cgroup, no fd";
}

TEST_F(CgroupV2Test, Stats) {
  FakeCgroupTree::write(leaf() / "cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
  FakeCgroupTree::write(leaf() / "memory.current", "10485760\n");
  FakeCgroupTree::write(leaf() / "memory.stat", "anon 4096\nfile 8192\ninactive_file 1048576\nactive_file 0\n");
  FakeCgroupTree::write(leaf() / "pids.current", "4\n");
  auto s = cgroup()->stats();
  EXPECT_EQ(s.cpu_usage_ns, 2500000u);
  EXPECT_EQ(s.memory_usage, 9u << 20);
  EXPECT_FALSE(s.memory_limit.has_value());
  EXPECT_EQ(s.pids, 4u);
  EXPECT_FALSE(s.pids_limit.has_value());
  FakeCgroupTree::write(leaf() / "memory.max", "33554432\n");
  FakeCgroupTree::write(leaf() / "pids.max", "10\n");
  s = cgroup()->stats();
  EXPECT_EQ(s.memory_limit, 33554432u);
  EXPECT_EQ(s.pids_limit, 10u);
}

TEST_F(CgroupV2Test, OomKilledFromMemoryEvents) {
  auto cg = cgroup();
  EXPECT_FALSE(cg->oom_killed());
  // "oom" counts the times the limit was hit; only "oom_kill" means a kill.
  FakeCgroupTree::write(leaf() / "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 0\n");
  EXPECT_FALSE(cg->oom_killed());
  FakeCgroupTree::write(leaf() / "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
  EXPECT_TRUE(cg->oom_killed());
}

TEST_F(CgroupV2Test, RemoveDeletesTheCgroupAndTheUnusedParentAndIsIdempotent) {
  auto cg = cgroup();
  cg->create(all_limits());
  FakeCgroupTree::drop_files(leaf());
  FakeCgroupTree::drop_files(leaf().parent_path());
  cg->remove();
  EXPECT_FALSE(fs::exists(leaf()));
  EXPECT_FALSE(fs::exists(base() / "nrun"));
  EXPECT_TRUE(fs::exists(base()));
  EXPECT_NO_THROW(cg->remove());
}

TEST_F(CgroupV2Test, RemoveAlsoRemovesChildCgroups) {
  // A container may make cgroups of its own below its cgroup.
  t_.dir(leaf() / "inner/deeper", {});
  FakeCgroupTree::drop_files(leaf());
  cgroup()->remove();
  EXPECT_FALSE(fs::exists(leaf()));
}

TEST_F(CgroupV2Test, WritesList) {
  const auto w = cgroup_v2_writes(all_limits(), WriteMode::create);
  ASSERT_EQ(w.size(), 6u);
  EXPECT_EQ(w[0], (CgroupWrite{"memory", "memory.max", "33554432"}));
  EXPECT_EQ(w[1], (CgroupWrite{"memory", "memory.swap.max", "33554432", true}));
  EXPECT_EQ(w[2], (CgroupWrite{"cpu", "cpu.max", "150000 100000"}));
  EXPECT_EQ(w[3], (CgroupWrite{"cpu", "cpu.weight", "20"}));
  EXPECT_EQ(w[4], (CgroupWrite{"cpuset", "cpuset.cpus", "0-1"}));
  EXPECT_EQ(w[5], (CgroupWrite{"pids", "pids.max", "10"}));
  EXPECT_TRUE(cgroup_v2_writes(Resources{}, WriteMode::create).empty());
}

TEST(CpuWeight, SharesToWeightAsCrunAndRunc) {
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 39u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
  EXPECT_EQ(cpu_shares_to_weight(0), 0u);
}

TEST_F(CgroupV2Test, JsonRoundTrip) {
  auto cg = cgroup();
  auto again = cgroup_from_json(cg->to_json());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->to_json(), cg->to_json());
}

// The freezer (Linux 5.2+): cgroup.freeze asks, cgroup.events reports.
TEST_F(CgroupV2Test, FreezeWritesCgroupFreezeAndWaitsForFrozenInEvents) {
  FakeCgroupTree::write(leaf() / "cgroup.freeze", "0\n");
  FakeCgroupTree::write(leaf() / "cgroup.events", "populated 1\nfrozen 1\n");  // as the kernel will say
  auto cg = cgroup();
  cg->freeze(kFreezeTimeout);
  EXPECT_EQ(read("cgroup.freeze"), "1");
  EXPECT_TRUE(cg->frozen());
  cg->thaw();
  EXPECT_EQ(read("cgroup.freeze"), "0");
}

TEST_F(CgroupV2Test, FreezeThatNeverCompletesTimesOutAndThaws) {
  FakeCgroupTree::write(leaf() / "cgroup.freeze", "0\n");
  FakeCgroupTree::write(leaf() / "cgroup.events", "populated 1\nfrozen 0\n");
  try {
    cgroup()->freeze(std::chrono::milliseconds(30));
    FAIL() << "expected a timeout";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did not stop within 30 ms"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read("cgroup.freeze"), "0") << "a failed freeze leaves nothing frozen";
}

TEST_F(CgroupV2Test, NoCgroupFreezeFileIsAClearError) {
  auto cg = cgroup();
  try {
    cg->freeze(kFreezeTimeout);
    FAIL() << "expected an error";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no cgroup v2 freezer"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(cg->thaw());
  EXPECT_FALSE(cg->frozen());
}
