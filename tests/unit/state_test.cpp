#include "runtime/state.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "temp_dir.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/proc.hpp"

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {
class StateStoreTest : public ::testing::Test {
 protected:
  ContainerSpec spec(const std::string& name = "") {
    ContainerSpec s;
    s.name = name;
    s.image = "busybox";
    s.command = {"true"};
    return s;
  }
  nrun::test::TempDir tmp_{"nrun-state-test"};
  const fs::path root_ = tmp_.path();
};
}  // namespace

TEST_F(StateStoreTest, CreateWritesConfigAndState) {
  StateStore store(root_);
  const auto rec = store.create(spec("web"));
  EXPECT_EQ(rec.id.size(), 64u);
  EXPECT_TRUE(fs::exists(store.dir(rec.id) / "config.json"));
  EXPECT_TRUE(fs::exists(store.dir(rec.id) / "state.json"));
  const auto loaded = store.load(rec.id);
  EXPECT_EQ(loaded.config.name, "web");
  EXPECT_EQ(loaded.config.hostname, rec.id.substr(0, 12));
  EXPECT_EQ(loaded.state.status, Status::created);
  // No temp files are left next to the record.
  for (const auto& e : fs::directory_iterator(root_ / "containers"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(StateStoreTest, NameTakenIsRefused) {
  StateStore store(root_);
  store.create(spec("web"));
  EXPECT_THROW(store.create(spec("web")), nrun::sys::UsageError);
  EXPECT_EQ(store.list().size(), 1u);
}

TEST_F(StateStoreTest, GeneratedNamesAreUnique) {
  StateStore store(root_);
  std::set<std::string> names;
  for (int i = 0; i < 40; ++i) names.insert(store.create(spec()).config.name);
  EXPECT_EQ(names.size(), 40u);
}

TEST_F(StateStoreTest, ResolveByNameIdAndPrefix) {
  StateStore store(root_);
  const auto a = store.create(spec("alpha"));
  const auto b = store.create(spec("beta"));
  EXPECT_EQ(store.resolve("alpha"), a.id);
  EXPECT_EQ(store.resolve(b.id), b.id);
  EXPECT_EQ(store.resolve(a.id.substr(0, 12)), a.id);
  EXPECT_THROW(store.resolve("gamma"), nrun::sys::UsageError);
  EXPECT_THROW(store.resolve("../etc"), nrun::sys::UsageError);
  // Find a common prefix when one exists; the empty-ish prefix of one hex
  // digit is ambiguous whenever both ids start with it.
  if (a.id[0] == b.id[0]) EXPECT_THROW(store.resolve(a.id.substr(0, 1)), nrun::sys::UsageError);
}

TEST_F(StateStoreTest, UpdateIsPersistedAtomically) {
  StateStore store(root_);
  const auto rec = store.create(spec());
  store.update(rec.id, [](ContainerState& s) {
    s.status = Status::exited;
    s.exit_code = 3;
  });
  const auto loaded = store.load(rec.id);
  EXPECT_EQ(loaded.state.status, Status::exited);
  EXPECT_EQ(loaded.state.exit_code, 3);
}

TEST_F(StateStoreTest, RunningRecordWithDeadPidReadsExited) {
  StateStore store(root_);
  const auto rec = store.create(spec());
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  const auto start = nrun::sys::try_process_start_time(child).value();
  ::waitpid(child, nullptr, 0);
  store.update(rec.id, [&](ContainerState& s) {
    s.status = Status::running;
    s.pid = child;
    s.start_time = start;
    s.boot_id = nrun::sys::boot_id();
  });
  EXPECT_EQ(store.load(rec.id).state.status, Status::exited);
}

TEST_F(StateStoreTest, RunningRecordWithReusedPidReadsExited) {
  StateStore store(root_);
  const auto rec = store.create(spec());
  store.update(rec.id, [&](ContainerState& s) {
    s.status = Status::running;
    s.pid = ::getpid();  // alive, but not started at this time
    s.start_time = 1;
    s.boot_id = nrun::sys::boot_id();
  });
  EXPECT_EQ(store.load(rec.id).state.status, Status::exited);
  store.update(rec.id, [&](ContainerState& s) {
    s.start_time = nrun::sys::try_process_start_time(::getpid()).value();
    s.boot_id = "another-boot";
  });
  EXPECT_EQ(store.load(rec.id).state.status, Status::exited);
  store.update(rec.id, [&](ContainerState& s) { s.boot_id = nrun::sys::boot_id(); });
  EXPECT_EQ(store.load(rec.id).state.status, Status::running);
}

TEST_F(StateStoreTest, RemoveDeletesEverything) {
  StateStore store(root_);
  const auto rec = store.create(spec());
  fs::create_directories(store.dir(rec.id) / "upper" / "a");
  store.remove(rec.id);
  EXPECT_FALSE(fs::exists(store.dir(rec.id)));
  EXPECT_TRUE(store.list().empty());
  EXPECT_NO_THROW(store.remove(rec.id));  // idempotent
}

TEST_F(StateStoreTest, ConcurrentCreatesGetDistinctNames) {
  StateStore store(root_);
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i) {
    const pid_t p = ::fork();
    if (p == 0) {
      try {
        StateStore s(root_);
        for (int j = 0; j < 5; ++j) s.create(spec());
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    kids.push_back(p);
  }
  for (pid_t p : kids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<std::string> names, ids;
  for (const auto& r : store.list()) {
    names.insert(r.config.name);
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(names.size(), 40u);
}

// The name index through the store: a root made without one, names freed
// by remove, an entry left by a crash, racing creates of one name.
TEST_F(StateStoreTest, BuildsTheNameIndexForARootMadeWithoutOne) {
  StateStore store(root_);
  const auto web = store.create(spec("web"));
  const auto db = store.create(spec("db"));
  fs::remove_all((root_ / "containers" / ".names"));  // as an nrun without the index left it
  StateStore again(root_);
  EXPECT_EQ(again.resolve("web"), web.id);
  EXPECT_TRUE(fs::is_directory((root_ / "containers" / ".names")));
  EXPECT_THROW(again.create(spec("db")), nrun::sys::UsageError);
  EXPECT_EQ(again.try_find_by_name("db"), db.id);
  EXPECT_FALSE(again.try_find_by_name(db.id.substr(0, 12))) << "names only, never an id prefix";
  EXPECT_EQ(again.resolve(db.id.substr(0, 12)), db.id);
}

TEST_F(StateStoreTest, FreesANameOnRemoveAndTakesOverAStaleOne) {
  StateStore store(root_);
  const auto first = store.create(spec("web"));
  store.remove(first.id);
  EXPECT_FALSE(fs::exists((root_ / "containers" / ".names") / "web"));
  EXPECT_FALSE(store.try_find_by_name("web"));
  EXPECT_THROW(store.resolve("web"), nrun::sys::UsageError);
  const auto second = store.create(spec("web"));
  EXPECT_EQ(store.resolve("web"), second.id);

  // A crash between the claim and the record: the entry names an id that
  // has no record. It resolves to nothing and is taken by the next create.
  fs::create_symlink(std::string(64, 'a'), (root_ / "containers" / ".names") / "ghost");
  EXPECT_FALSE(store.try_find_by_name("ghost"));
  EXPECT_THROW(store.resolve("ghost"), nrun::sys::UsageError);
  const auto ghost = store.create(spec("ghost"));
  EXPECT_EQ(store.resolve("ghost"), ghost.id);
}

TEST_F(StateStoreTest, ConcurrentCreatesOfOneNameHaveOneWinner) {
  constexpr int kRacers = 8;
  std::vector<pid_t> kids;
  for (int i = 0; i < kRacers; ++i) {
    const pid_t p = ::fork();
    if (p == 0) {
      try {
        StateStore(root_).create(spec("same"));
        ::_exit(0);
      } catch (const nrun::sys::UsageError&) {
        ::_exit(1);  // the name was taken
      } catch (...) {
        ::_exit(2);
      }
    }
    kids.push_back(p);
  }
  int won = 0, lost = 0;
  for (pid_t p : kids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) ++won;
    if (WEXITSTATUS(status) == 1) ++lost;
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(lost, kRacers - 1);
  StateStore store(root_);
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.resolve("same"), store.list()[0].id);
}

TEST_F(StateStoreTest, ResolveFindsARecordTheIndexMisses) {
  // Made by an nrun without the index after the index was built: found by
  // reading the records, which only a miss does.
  StateStore store(root_);
  const auto rec = store.create(spec("old"));
  fs::remove(root_ / "containers" / ".names" / "old");
  EXPECT_FALSE(store.try_find_by_name("old"));
  EXPECT_EQ(store.resolve("old"), rec.id);
  EXPECT_THROW(store.resolve("new"), nrun::sys::UsageError);
}

TEST(AtomicWrite, ReplacesContentAndLeavesNoTemp) {
  const nrun::test::TempDir tmp("nrun-atomic-test");
  const fs::path& dir = tmp.path();
  const auto file = (dir / "f.json").string();
  nrun::sys::write_file_atomic(file, "one");
  nrun::sys::write_file_atomic(file, "two");
  EXPECT_EQ(nrun::sys::read_file(file), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(Proc, SingleThreadedAndStartTime) {
  EXPECT_EQ(nrun::sys::thread_count(), 1);
  EXPECT_NO_THROW(nrun::sys::assert_single_threaded("test"));
  EXPECT_TRUE(nrun::sys::process_matches(::getpid(), nrun::sys::try_process_start_time(::getpid()).value()));
  EXPECT_FALSE(nrun::sys::try_process_start_time(0).has_value());
  EXPECT_EQ(nrun::sys::boot_id().size(), 36u);
}

namespace {
// A record torn by a crash (--rm records are not fsync'd): skipped by list,
// found by corrupt_records, an error naming it for load, removable.
TEST(StateStoreTorn, TornRecordIsSkippedFoundAndRemovable) {
  const nrun::test::TempDir tmp("nrun-torn-test");
  const fs::path& root = tmp.path();
  {
    nrun::runtime::StateStore store(root);
    nrun::runtime::ContainerSpec keep, torn;
    keep.name = "keep";
    torn.name = "torn";
    torn.remove = true;
    const auto k = store.create(keep);
    const auto t = store.create(torn);
    EXPECT_EQ(store.load(t.id).config.name, "torn") << "a --rm record reads back like any other";
    nrun::sys::write_file_atomic((store.dir(t.id) / "config.json").string(), "");
    const auto all = store.list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, k.id);
    EXPECT_EQ(store.corrupt_records(), std::vector<std::string>{t.id});
    EXPECT_THROW(store.load(t.id), nrun::runtime::CorruptRecord);
    store.remove(t.id);
    EXPECT_TRUE(store.corrupt_records().empty());
    EXPECT_FALSE(fs::exists(store.dir(t.id)));
    // The torn record's name entry is stale now and goes to the next claim.
    nrun::runtime::ContainerSpec again;
    again.name = "torn";
    EXPECT_NO_THROW(store.create(again));
  }
}
}  // namespace

// What an nrun killed while writing (or deleting) a record leaves behind.
TEST_F(StateStoreTest, SweepRemovesTheTempDirsOfAKilledNrun) {
  StateStore store(root_);
  const auto kept = store.create(spec("kept"));
  const fs::path containers = root_ / "containers";
  const std::string a(64, 'a'), b(64, 'b');
  fs::create_directories(containers / (".tmp-" + a) / "upper/deep");
  std::ofstream(containers / (".tmp-" + a) / "config.json") << "{\"name\": \"half";
  fs::create_directories(containers / (".rm-" + b) / "upper");
  EXPECT_EQ(store.sweep_temps(), 2u);
  EXPECT_FALSE(fs::exists(containers / (".tmp-" + a)));
  EXPECT_FALSE(fs::exists(containers / (".rm-" + b)));
  EXPECT_NO_THROW(store.load(kept.id));
  EXPECT_EQ(store.sweep_temps(), 0u);  // idempotent
  // A name claimed by the killed create is free again.
  EXPECT_NO_THROW(store.create(spec("half")));
}
