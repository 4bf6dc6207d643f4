// The container name index on its own: claims, stale entries, release,
// build. state_test.cpp drives it through the state store.
#include "temp_dir.hpp"
#include "runtime/name_index.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {
class NameIndexTest : public ::testing::Test {
 protected:
  fs::path names_dir() const { return root_ / "containers" / ".names"; }

  nrun::test::TempDir tmp_{"nrun-names-test"};
  const fs::path root_ = tmp_.path();
  std::set<std::string> live_;  // the ids whose record "exists"
  NameIndex::RecordExists exists = [this](const std::string& id) { return live_.count(id) > 0; };
};

const std::string kA(64, 'a'), kB(64, 'b'), kC(64, 'c');  // ids
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
