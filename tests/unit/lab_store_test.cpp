// The lab store against a temporary root: create refuses a deployed lab,
// update is read-modify-write, created objects are appended and folded in,
// list is sorted, remove is idempotent, a corrupt file is an error and not
// an empty lab.
#include "lab/lab_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/sys/error.hpp"

using namespace nrun::lab;
namespace fs = std::filesystem;

namespace {
class LabStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("nrun-lab-store-" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  static LabRecord record(const std::string& name) {
    LabRecord r;
    r.name = name;
    r.nodes = {{"a", name + "-a", {{"eth0", "lan", "", "10.0.0.1/24", "02:00:00:00:00:01"}}}};
    return r;
  }
  fs::path root_;
};
}  // namespace

TEST_F(LabStoreTest, CreateGetUpdateListRemove) {
  LabStore store(root_);
  EXPECT_FALSE(store.try_get("one"));
  EXPECT_THROW(store.get("one"), nrun::sys::UsageError);
  EXPECT_TRUE(store.list().empty());

  store.create(record("two"));
  store.create(record("one"));
  EXPECT_THROW(store.create(record("one")), nrun::sys::UsageError);
  EXPECT_TRUE(fs::exists(root_ / "labs" / "one.json"));

  const LabRecord after = store.update("one", [](LabRecord& r) {
    r.containers.push_back("one-a");
    r.status = LabStatus::deployed;
  });
  EXPECT_EQ(after.containers, std::vector<std::string>{"one-a"});
  const LabRecord back = store.get("one");
  EXPECT_EQ(back.containers, std::vector<std::string>{"one-a"});
  EXPECT_EQ(back.status, LabStatus::deployed);
  EXPECT_EQ(back.nodes, record("one").nodes);

  const auto all = store.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "one");
  EXPECT_EQ(all[1].name, "two");

  store.remove("one");
  store.remove("one");  // gone already: fine
  EXPECT_FALSE(store.try_get("one"));
  EXPECT_THROW(store.update("one", [](LabRecord&) {}), nrun::sys::UsageError);
}

TEST_F(LabStoreTest, NamesThatAreNotLabsAndCorruptFiles) {
  LabStore store(root_);
  EXPECT_FALSE(store.try_get("../etc/passwd"));
  EXPECT_FALSE(store.try_get(""));
  fs::create_directories(root_ / "labs");
  std::ofstream(root_ / "labs" / "bad.json") << "{ not json";
  EXPECT_THROW(store.try_get("bad"), nrun::lab::CorruptLab);
  std::ofstream(root_ / "labs" / ".lock");  // not a lab
  std::ofstream(root_ / "labs" / "notes.txt");
  // A corrupt lab is neither silently skipped nor in the way of the others.
  store.create(record("good"));
  const auto all = store.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "bad");
  EXPECT_EQ(all[0].status, LabStatus::corrupt);
  EXPECT_NE(all[0].error.find("corrupt lab file"), std::string::npos) << all[0].error;
  EXPECT_EQ(all[1].name, "good");
  fs::remove(root_ / "labs" / "bad.json");
  EXPECT_EQ(store.list().size(), 1u);
}

TEST_F(LabStoreTest, ACorruptRecordIsSalvagedFromItsLinesAndReplacedWhole) {
  LabStore store(root_);
  store.create(record("torn"));
  store.add_created("torn", CreatedKind::network, "torn-lan");
  store.add_created("torn", CreatedKind::container, "torn-a");
  std::ofstream(root_ / "labs" / "torn.json") << "{\"name\": \"to";
  std::ofstream(root_ / "labs" / "torn.created", std::ios::app) << "netns torn-";  // cut mid-append
  LabRecord r = store.salvage("torn", "why");
  EXPECT_EQ(r.name, "torn");
  EXPECT_EQ(r.status, LabStatus::corrupt);
  EXPECT_EQ(r.networks, std::vector<std::string>{"torn-lan"});
  EXPECT_EQ(r.containers, std::vector<std::string>{"torn-a"});
  EXPECT_TRUE(r.netns.empty());
  // A record naming another lab is corrupt too.
  std::ofstream(root_ / "labs" / "other.json") << R"({"name": "else"})";
  EXPECT_THROW(store.try_get("other"), nrun::lab::CorruptLab);

  r.status = LabStatus::failed;
  r.containers.push_back("torn-b");
  store.replace(r);
  EXPECT_FALSE(fs::exists(root_ / "labs" / "torn.created"));
  const LabRecord back = store.get("torn");
  EXPECT_EQ(back.status, LabStatus::failed);
  EXPECT_EQ(back.containers, (std::vector<std::string>{"torn-a", "torn-b"}));
  EXPECT_EQ(back.networks, std::vector<std::string>{"torn-lan"});
}

TEST_F(LabStoreTest, CreatedObjectsAreAppendedThenFoldedIntoTheRecord) {
  LabStore store(root_);
  EXPECT_THROW(store.add_created("one", CreatedKind::container, "one-a"), nrun::sys::UsageError);
  store.create(record("one"));
  const fs::path lines = root_ / "labs" / "one.created";
  const auto record_before = fs::last_write_time(root_ / "labs" / "one.json");
  store.add_created("one", CreatedKind::network, "one-lan");
  store.add_created("one", CreatedKind::container, "one-a");
  store.add_created("one", CreatedKind::netns, "one-a");
  store.add_created("one", CreatedKind::container, "one-b");
  // Appended, the record itself untouched.
  EXPECT_EQ(fs::last_write_time(root_ / "labs" / "one.json"), record_before);
  EXPECT_TRUE(fs::exists(lines));
  LabRecord r = store.get("one");
  EXPECT_EQ(r.networks, std::vector<std::string>{"one-lan"});
  EXPECT_EQ(r.containers, (std::vector<std::string>{"one-a", "one-b"}));
  EXPECT_EQ(r.netns, std::vector<std::string>{"one-a"});
  EXPECT_EQ(r.nodes, record("one").nodes);
  EXPECT_EQ(store.list().at(0).containers, r.containers);
  EXPECT_THROW(store.add_created("one", CreatedKind::container, "two words"), nrun::sys::Error);

  // update folds the lines into the record and empties them.
  store.update("one", [](LabRecord& x) { x.status = LabStatus::deployed; });
  EXPECT_FALSE(fs::exists(lines));
  r = store.get("one");
  EXPECT_EQ(r.containers, (std::vector<std::string>{"one-a", "one-b"}));
  EXPECT_EQ(r.status, LabStatus::deployed);

  // A crash between the record's write and the lines' removal: the lines
  // are merged once. A torn last line names nothing.
  std::ofstream(lines) << "container one-a\nnetns one-a\ncontainer one-c\ncontain";
  r = store.get("one");
  EXPECT_EQ(r.containers, (std::vector<std::string>{"one-a", "one-b", "one-c"}));
  EXPECT_EQ(r.netns, std::vector<std::string>{"one-a"});

  // remove takes both; lines left by a remove cut short are not the next
  // lab's.
  store.remove("one");
  EXPECT_FALSE(fs::exists(lines));
  EXPECT_FALSE(store.try_get("one"));
  std::ofstream(lines) << "container stale\n";
  EXPECT_FALSE(store.try_get("one"));
  store.create(record("one"));
  EXPECT_TRUE(store.get("one").containers.empty());
}
