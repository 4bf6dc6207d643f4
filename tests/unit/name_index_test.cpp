// The container name index on its own (claims, stale entries, release,
// build) and through the state store (a root without an index, a crash
// between the claim and the record, names freed by remove, concurrent
// creates of one name).
#include "runtime/name_index.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {
class NameIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nrun-names-test.XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  static ContainerSpec spec(const std::string& name = "") {
    ContainerSpec s;
    s.name = name;
    s.image = "busybox";
    s.command = {"true"};
    return s;
  }
  fs::path names_dir() const { return root_ / "containers" / ".names"; }

  fs::path root_;
  std::set<std::string> live_;  // the ids whose record "exists"
  NameIndex::RecordExists exists = [this](const std::string& id) { return live_.count(id) > 0; };
};

const std::string kA(64, 'a'), kB(64, 'b'), kC(64, 'c');
}  // namespace

TEST_F(NameIndexTest, AClaimedNameIsTakenUntilReleased) {
  NameIndex idx(names_dir());
  EXPECT_FALSE(idx.ready());
  EXPECT_FALSE(idx.lookup("web"));
  live_ = {kA, kB};
  EXPECT_TRUE(idx.claim("web", kA, exists));  // makes the directory
  EXPECT_TRUE(idx.ready());
  EXPECT_EQ(idx.lookup("web"), kA);
  EXPECT_FALSE(idx.claim("web", kB, exists));
  EXPECT_TRUE(idx.claim("web", kA, exists)) << "claiming one's own name again is not a conflict";
  EXPECT_TRUE(fs::is_symlink(names_dir() / "web"));

  idx.release("web", kB);  // not its holder: nothing happens
  EXPECT_EQ(idx.lookup("web"), kA);
  idx.release("web", kA);
  EXPECT_FALSE(idx.lookup("web"));
  idx.release("web", kA);  // idempotent
  EXPECT_TRUE(idx.claim("web", kB, exists));
}

TEST_F(NameIndexTest, AnEntryWhoseRecordIsGoneIsReplaced) {
  NameIndex idx(names_dir());
  live_ = {kB};
  ASSERT_TRUE(idx.claim("db", kA, exists));  // kA's record never made it (a crash)
  EXPECT_TRUE(idx.claim("db", kB, exists));
  EXPECT_EQ(idx.lookup("db"), kB);
  // Something that is not an nrun entry (a plain file) holds nothing.
  std::ofstream(names_dir() / "odd") << "x";
  EXPECT_FALSE(idx.lookup("odd"));
  EXPECT_TRUE(idx.claim("odd", kB, exists));
  EXPECT_EQ(idx.lookup("odd"), kB);
}

TEST_F(NameIndexTest, NamesThatAreNotOnePathComponentAreRefused) {
  NameIndex idx(names_dir());
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "../x", "a/b", std::string(300, 'n')})
    EXPECT_THROW(idx.claim(bad, kA, exists), nrun::sys::Error) << bad;
  EXPECT_FALSE(idx.lookup("../containers"));
  EXPECT_FALSE(fs::exists(root_ / "x"));
}

TEST_F(NameIndexTest, BuildIndexesEveryNameAtOnceAndTheFirstOfTwoWins) {
  NameIndex idx(names_dir());
  fs::create_directories(root_ / "containers");
  idx.build({{"a", kA}, {"b", kB}, {"a", kC}});
  EXPECT_TRUE(idx.ready());
  EXPECT_EQ(idx.lookup("a"), kA);
  EXPECT_EQ(idx.lookup("b"), kB);
  // No temporary directory is left beside it.
  for (const auto& e : fs::directory_iterator(root_ / "containers"))
    EXPECT_EQ(e.path().filename(), ".names") << e.path();
}

TEST_F(NameIndexTest, StoreBuildsTheIndexForARootMadeWithoutOne) {
  StateStore store(root_);
  const auto web = store.create(spec("web"));
  const auto db = store.create(spec("db"));
  fs::remove_all(names_dir());  // as an nrun without the index left it
  StateStore again(root_);
  EXPECT_EQ(again.resolve("web"), web.id);
  EXPECT_TRUE(fs::is_directory(names_dir()));
  EXPECT_THROW(again.create(spec("db")), nrun::sys::UsageError);
  EXPECT_EQ(again.try_find_by_name("db"), db.id);
  EXPECT_FALSE(again.try_find_by_name(db.id.substr(0, 12))) << "names only, never an id prefix";
  EXPECT_EQ(again.resolve(db.id.substr(0, 12)), db.id);
}

TEST_F(NameIndexTest, StoreFreesANameOnRemoveAndTakesOverAStaleOne) {
  StateStore store(root_);
  const auto first = store.create(spec("web"));
  store.remove(first.id);
  EXPECT_FALSE(fs::exists(names_dir() / "web"));
  EXPECT_FALSE(store.try_find_by_name("web"));
  EXPECT_THROW(store.resolve("web"), nrun::sys::UsageError);
  const auto second = store.create(spec("web"));
  EXPECT_EQ(store.resolve("web"), second.id);

  // A crash between the claim and the record: the entry names an id that
  // has no record. It resolves to nothing and is taken by the next create.
  fs::create_symlink(kA, names_dir() / "ghost");
  EXPECT_FALSE(store.try_find_by_name("ghost"));
  EXPECT_THROW(store.resolve("ghost"), nrun::sys::UsageError);
  const auto ghost = store.create(spec("ghost"));
  EXPECT_EQ(store.resolve("ghost"), ghost.id);
}

TEST_F(NameIndexTest, ConcurrentCreatesOfOneNameHaveOneWinner) {
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
