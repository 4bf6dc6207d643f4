// The markers by which a container in another's network namespace
// (--net container:A) tells A's teardown that the namespace outlives A's init.
#include "temp_dir.hpp"
#include "runtime/shared_namespaces.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

using namespace nrun::runtime;
namespace fs = std::filesystem;

namespace {
class NetSharerTest : public ::testing::Test {
 protected:
  ContainerSpec spec(const std::string& name, const std::string& net) {
    ContainerSpec s;
    s.name = name;
    s.image = "busybox";
    s.command = {"true"};
    s.net = net;
    return s;
  }
  nrun::test::TempDir tmp_{"nrun-sharer-test"};
  const fs::path root_ = tmp_.path();
};
}  // namespace

TEST_F(NetSharerTest, RecordedUntilForgotten) {
  StateStore store(root_);
  const auto owner = store.create(spec("owner", "bridge"));
  const auto guest = store.create(spec("guest", "container:" + owner.id));
  EXPECT_FALSE(net_namespace_may_be_shared(store, owner.id));
  record_net_sharer(store, guest);
  EXPECT_TRUE(net_namespace_may_be_shared(store, owner.id));
  EXPECT_TRUE(fs::exists(store.dir(owner.id) / "net-sharers" / guest.id));
  EXPECT_FALSE(net_namespace_may_be_shared(store, guest.id));
  forget_net_sharer(store, guest);
  EXPECT_FALSE(net_namespace_may_be_shared(store, owner.id));
  forget_net_sharer(store, guest);  // idempotent
  // The owner's record still loads and lists with the marker directory in it.
  EXPECT_EQ(store.load(owner.id).config.name, "owner");
  EXPECT_EQ(store.list().size(), 2u);
}

TEST_F(NetSharerTest, OnlyContainerModeRecordsAndAMissingOwnerIsNotAnError) {
  StateStore store(root_);
  const auto plain = store.create(spec("plain", "bridge"));
  record_net_sharer(store, plain);  // no-op
  EXPECT_FALSE(fs::exists(store.dir(plain.id) / "net-sharers"));
  const auto orphan = store.create(spec("orphan", "container:" + std::string(64, 'a')));
  EXPECT_NO_THROW(record_net_sharer(store, orphan));  // opening the namespace reports it
  EXPECT_FALSE(fs::exists(store.dir(std::string(64, 'a'))));
  forget_net_sharer(store, orphan);
  // Removing the owner takes the markers with it; the guest's forget is fine.
  const auto guest = store.create(spec("guest", "container:" + plain.id));
  record_net_sharer(store, guest);
  store.remove(plain.id);
  forget_net_sharer(store, guest);
  EXPECT_FALSE(net_namespace_may_be_shared(store, plain.id));
}
