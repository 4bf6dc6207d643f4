// IPAM allocation and release, network planning (subnets, gateways, names)
// and the network store's persistence.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "net/ipam.hpp"
#include "net/network_store.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::net;
using nrun::sys::UsageError;
namespace fs = std::filesystem;

namespace {
Lease lease(const std::string& id, const std::string& name = "c") { return {id, name, "h", {}, "eth0", ""}; }

class TmpDir {
 public:
  TmpDir() {
    char tmpl[] = "/tmp/nrun-net-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TmpDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};
}  // namespace

TEST(Ipam, LowestFreeSkipsNetworkGatewayBroadcast) {
  Ipam ipam(parse_cidr("10.20.0.0/29"), parse_ipv4("10.20.0.1"));
  EXPECT_EQ(ipam.capacity(), 5u);  // .2-.6
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) got.push_back(ipam.allocate(lease("c" + std::to_string(i)), std::nullopt, "lab").str());
  EXPECT_EQ(got, (std::vector<std::string>{"10.20.0.2", "10.20.0.3", "10.20.0.4", "10.20.0.5", "10.20.0.6"}));
  try {
    ipam.allocate(lease("c9"), std::nullopt, "lab");
    FAIL() << "allocated from a full subnet";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'lab'"), std::string::npos) << e.what();  // names the network
  }
  // A released address is the lowest free one again.
  EXPECT_EQ(ipam.release("c1"), std::vector<Ipv4>{parse_ipv4("10.20.0.3")});
  EXPECT_EQ(ipam.allocate(lease("c7"), std::nullopt, "lab").str(), "10.20.0.3");
  EXPECT_TRUE(ipam.release("nobody").empty());
}

TEST(Ipam, GatewayInTheMiddle) {
  Ipam ipam(parse_cidr("10.20.0.0/30"), parse_ipv4("10.20.0.2"));
  EXPECT_EQ(ipam.allocate(lease("a"), std::nullopt, "n").str(), "10.20.0.1");
  EXPECT_THROW(ipam.allocate(lease("b"), std::nullopt, "n"), nrun::sys::Error);
}

TEST(Ipam, StaticAddresses) {
  Ipam ipam(parse_cidr("10.20.0.0/24"), parse_ipv4("10.20.0.1"));
  EXPECT_EQ(ipam.allocate(lease("a", "alpha"), parse_ipv4("10.20.0.50"), "lab").str(), "10.20.0.50");
  EXPECT_THROW(ipam.allocate(lease("b"), parse_ipv4("10.20.1.5"), "lab"), UsageError);    // outside
  EXPECT_THROW(ipam.allocate(lease("b"), parse_ipv4("10.20.0.0"), "lab"), UsageError);    // network
  EXPECT_THROW(ipam.allocate(lease("b"), parse_ipv4("10.20.0.255"), "lab"), UsageError);  // broadcast
  EXPECT_THROW(ipam.allocate(lease("b"), parse_ipv4("10.20.0.1"), "lab"), UsageError);    // gateway
  try {
    ipam.allocate(lease("b"), parse_ipv4("10.20.0.50"), "lab");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("alpha"), std::string::npos) << e.what();  // who has it
  }
  // Dynamic allocation goes around the static one.
  EXPECT_EQ(ipam.allocate(lease("c"), std::nullopt, "lab").str(), "10.20.0.2");
  EXPECT_EQ(ipam.address_of("a")->str(), "10.20.0.50");
  EXPECT_FALSE(ipam.address_of("zzz").has_value());
}

TEST(NetworkPlan, DefaultNetworkAvoidsHostRoutesAndTakenBridges) {
  auto n = plan_network({kDefaultNetwork}, {}, {}, {"lo", "eth0"}, "id", "now");
  EXPECT_EQ(n.subnet.str(), "10.88.0.0/16");
  EXPECT_EQ(n.gateway.str(), "10.88.0.1");
  EXPECT_EQ(n.bridge, "nrun0");
  // The host routes 10.0.0.0/8: the default moves to 172.17.0.0/16; nrun0
  // belongs to someone else: nrun1.
  n = plan_network({kDefaultNetwork}, {}, {parse_cidr("10.0.0.0/8"), parse_cidr("172.17.0.1/32", false)},
                   {"lo", "nrun0"}, "id", "now");
  EXPECT_EQ(n.subnet.str(), "172.18.0.0/16");
  EXPECT_EQ(n.bridge, "nrun1");
}

TEST(NetworkPlan, UserNetworks) {
  const auto a = plan_network({"lab0"}, {}, {}, {}, "ida", "now");
  EXPECT_EQ(a.bridge, "lab0");
  EXPECT_EQ(a.subnet.str(), "10.89.0.0/24");
  const auto b = plan_network({"lab1"}, {a}, {parse_cidr("10.89.1.0/24")}, {}, "idb", "now");
  EXPECT_EQ(b.subnet.str(), "10.89.2.0/24");
  NewNetwork req{"lab2", parse_cidr("192.168.7.0/24"), parse_ipv4("192.168.7.254"), true, 9000};
  const auto c = plan_network(req, {a, b}, {}, {}, "idc", "now");
  EXPECT_EQ(c.gateway.str(), "192.168.7.254");
  EXPECT_TRUE(c.internal);
  EXPECT_EQ(c.mtu, 9000u);
}

TEST(NetworkPlan, BadInput) {
  const auto a = plan_network({"lab0", parse_cidr("10.20.0.0/24")}, {}, {}, {}, "ida", "now");
  auto expect_bad = [&](NewNetwork req, const std::vector<std::string>& links, const std::string& needle) {
    try {
      plan_network(req, {a}, {parse_cidr("192.168.1.0/24")}, links, "id", "now");
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad({"lab0"}, {}, "already exists");
  expect_bad({"lab1", parse_cidr("10.20.0.128/25")}, {}, "overlaps network 'lab0'");
  expect_bad({"lab1", parse_cidr("192.168.0.0/16")}, {}, "overlaps the host's route");
  expect_bad({"lab1", parse_cidr("10.30.0.0/24"), parse_ipv4("10.31.0.1")}, {}, "outside the subnet");
  expect_bad({"lab1", parse_cidr("10.30.0.0/24"), parse_ipv4("10.30.0.255")}, {}, "broadcast");
  expect_bad({"lab1", parse_cidr("10.30.0.0/31")}, {}, "prefix length");
  expect_bad({"a-name-too-long-for-a-bridge"}, {}, "too long");
  expect_bad({"bad name"}, {}, "invalid network name");
  expect_bad({"none"}, {}, "predefined");
  expect_bad({"eth0"}, {"eth0"}, "already exists");
  expect_bad({"lab1", std::nullopt, std::nullopt, false, 20}, {}, "MTU");
}

TEST(NetworkStore, PersistsLeases) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  EXPECT_FALSE(store.try_get("lab0").has_value());
  EXPECT_THROW(store.get("lab0"), UsageError);
  auto n = plan_network({"lab0", parse_cidr("10.20.0.0/24")}, {}, {}, {}, std::string(64, 'a'), "now");
  n.ipam.allocate({"c1", "one", "h1", {"web", "www"}, "eth0", "02:42:0a:14:00:02"}, std::nullopt, n.name);
  {
    auto l = store.lock();
    store.save(n);
  }
  const auto back = store.get("lab0");
  EXPECT_EQ(back.bridge, "lab0");
  EXPECT_EQ(back.subnet.str(), "10.20.0.0/24");
  EXPECT_EQ(back.gateway.str(), "10.20.0.1");
  ASSERT_EQ(back.ipam.leases().size(), 1u);
  EXPECT_EQ(back.ipam.leases().begin()->first.str(), "10.20.0.2");
  EXPECT_EQ(back.ipam.leases().begin()->second, (Lease{"c1", "one", "h1", {"web", "www"}, "eth0", "02:42:0a:14:00:02"}));
  EXPECT_EQ(store.list().size(), 1u);
  store.remove("lab0");
  store.remove("lab0");  // idempotent
  EXPECT_TRUE(store.list().empty());
}

// Concurrent allocations under the store's lock never hand out an address
// twice (processes, as concurrent `nrun run`s are).
TEST(NetworkStore, ConcurrentAllocationsAreDistinct) {
  TmpDir tmp;
  {
    NetworkStore store(tmp.path());
    store.save(plan_network({"lab0", parse_cidr("10.20.0.0/24")}, {}, {}, {}, std::string(64, 'b'), "now"));
  }
  std::vector<pid_t> kids;
  for (int i = 0; i < 12; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        NetworkStore store(tmp.path());
        auto l = store.lock();
        auto n = store.get("lab0");
        n.ipam.allocate(lease("c" + std::to_string(i)), std::nullopt, n.name);
        store.save(n);
        ::_exit(0);
      } catch (...) {
        ::_exit(1);
      }
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    ::waitpid(k, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const auto n = NetworkStore(tmp.path()).get("lab0");
  EXPECT_EQ(n.ipam.leases().size(), 12u);
  std::set<std::string> owners;
  for (const auto& [ip, l] : n.ipam.leases()) owners.insert(l.container);
  EXPECT_EQ(owners.size(), 12u);
}

TEST(NetworkNames, Validity) {
  EXPECT_TRUE(is_valid_network_name("lab0"));
  EXPECT_TRUE(is_valid_network_name("a.b-c_d"));
  EXPECT_TRUE(is_valid_network_name(std::string(15, 'x')));
  EXPECT_FALSE(is_valid_network_name(std::string(16, 'x')));
  EXPECT_FALSE(is_valid_network_name("-lab"));
  EXPECT_FALSE(is_valid_network_name("la/b"));
  EXPECT_FALSE(is_valid_network_name(""));
  EXPECT_EQ(pick_subnet({parse_cidr("10.0.0.0/24"), parse_cidr("10.0.1.0/24")}, {parse_cidr("10.0.0.0/25")})->str(),
            "10.0.1.0/24");
  EXPECT_FALSE(pick_subnet({parse_cidr("10.0.0.0/24")}, {parse_cidr("10.0.0.0/8")}).has_value());
}
