// IPAM allocation and release, network planning (subnets, gateways, names)
// and the network store's persistence.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "net/ipam.hpp"
#include "net/network_store.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

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

// The per-address lease files: what attach and detach do.
namespace {
NetworkConfig lab0(NetworkStore& store, const std::string& subnet = "10.20.0.0/24") {
  auto n = plan_network({"lab0", parse_cidr(subnet)}, {}, {}, {}, std::string(64, 'c'), "now");
  store.save(n);
  return n;
}

// attach_one's steps: the cheap read, the pure pick, the exclusive create.
Ipv4 attach(NetworkStore& store, const std::string& id, std::optional<Ipv4> want = {}) {
  auto l = store.lock();
  auto n = *store.try_get_addresses("lab0", want);
  const Lease le = lease(id, "name-" + id);
  const Ipv4 ip = n.ipam.allocate(le, want, n.name);
  store.add_lease(n, ip, le);
  return ip;
}

std::set<std::string> lease_files(const NetworkStore& store, const std::string& net) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store.leases_dir(net), ec)) out.insert(e.path().filename().string());
  return out;
}
}  // namespace

TEST(NetworkLeases, LowestFreeOneFileEach) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  lab0(store);
  EXPECT_EQ(attach(store, "a").str(), "10.20.0.2");
  EXPECT_EQ(attach(store, "b").str(), "10.20.0.3");
  EXPECT_EQ(attach(store, "c").str(), "10.20.0.4");
  EXPECT_EQ(lease_files(store, "lab0"), (std::set<std::string>{"10.20.0.2", "10.20.0.3", "10.20.0.4"}));
  // The network's file keeps only its configuration.
  const auto file = nlohmann::json::parse(nrun::sys::read_file((tmp.path() / "networks/lab0.json").string()));
  EXPECT_FALSE(file.contains("allocations")) << file.dump();
  // The cheap read knows the addresses but not the leases.
  const auto cheap = *store.try_get_addresses("lab0");
  EXPECT_EQ(cheap.ipam.leases().size(), 3u);
  EXPECT_TRUE(cheap.ipam.leases().begin()->second.container.empty());
  // The full read has them all.
  const auto full = store.get("lab0");
  ASSERT_EQ(full.ipam.leases().size(), 3u);
  EXPECT_EQ(full.ipam.leases().at(parse_ipv4("10.20.0.3")), lease("b", "name-b"));
  // A released address is the lowest free one again.
  {
    auto l = store.lock();
    EXPECT_EQ(store.release("lab0", "b", {parse_ipv4("10.20.0.3")}), std::vector<Ipv4>{parse_ipv4("10.20.0.3")});
  }
  EXPECT_EQ(attach(store, "d").str(), "10.20.0.3");
  // An address is never leased twice, whatever the caller believed.
  auto l = store.lock();
  EXPECT_THROW(store.add_lease(cheap, parse_ipv4("10.20.0.2"), lease("e")), nrun::sys::Error);
  EXPECT_EQ(store.get("lab0").ipam.leases().at(parse_ipv4("10.20.0.2")).container, "a");
}

TEST(NetworkLeases, StaticAddressChecks) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  lab0(store);
  EXPECT_EQ(attach(store, "a", parse_ipv4("10.20.0.50")).str(), "10.20.0.50");
  EXPECT_THROW(attach(store, "b", parse_ipv4("10.20.1.5")), UsageError);    // outside
  EXPECT_THROW(attach(store, "b", parse_ipv4("10.20.0.0")), UsageError);    // network
  EXPECT_THROW(attach(store, "b", parse_ipv4("10.20.0.255")), UsageError);  // broadcast
  EXPECT_THROW(attach(store, "b", parse_ipv4("10.20.0.1")), UsageError);    // gateway
  try {
    attach(store, "b", parse_ipv4("10.20.0.50"));
    FAIL() << "leased a taken address";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'name-a'"), std::string::npos) << e.what();  // who has it
  }
  EXPECT_EQ(attach(store, "c").str(), "10.20.0.2");
}

TEST(NetworkLeases, ExhaustionNamesTheNetwork) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  lab0(store, "10.20.0.0/30");  // .1 the gateway, .2 the only address
  EXPECT_EQ(attach(store, "a").str(), "10.20.0.2");
  try {
    attach(store, "b");
    FAIL() << "allocated from a full subnet";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'lab0'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(lease_files(store, "lab0").size(), 1u);
}

TEST(NetworkLeases, ReleaseByRecordedAddressesAndByOwner) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  lab0(store);
  const Ipv4 a1 = attach(store, "a"), b1 = attach(store, "b"), a2 = attach(store, "a"), c1 = attach(store, "c");
  auto l = store.lock();
  // Recorded addresses: only the files naming the container go.
  EXPECT_TRUE(store.release("lab0", "a", {b1}).empty());  // b's: kept
  EXPECT_EQ(store.release("lab0", "a", {a1, parse_ipv4("10.20.0.99")}), std::vector<Ipv4>{a1});
  EXPECT_EQ(lease_files(store, "lab0"), (std::set<std::string>{b1.str(), a2.str(), c1.str()}));
  // The state lost: a scan of the leases finds a's other address.
  EXPECT_EQ(store.release("lab0", "a"), std::vector<Ipv4>{a2});
  EXPECT_TRUE(store.release("lab0", "a").empty());
  EXPECT_EQ(lease_files(store, "lab0"), (std::set<std::string>{b1.str(), c1.str()}));
  EXPECT_TRUE(store.release("nonet", "b").empty());  // an unknown network
  // A torn lease file (a crash) keeps its address taken and is nobody's.
  std::ofstream(store.leases_dir("lab0") / "10.20.0.7") << "{\"contai";
  EXPECT_TRUE(store.release("lab0", "b", {parse_ipv4("10.20.0.7")}).empty());
  EXPECT_TRUE(store.get("lab0").ipam.leases().at(parse_ipv4("10.20.0.7")).container.empty());
  EXPECT_TRUE(store.try_get_addresses("lab0")->ipam.leases().count(parse_ipv4("10.20.0.7")));
}

TEST(NetworkLeases, OldFormatMigrates) {
  TmpDir tmp;
  fs::create_directories(tmp.path() / "networks");
  // A network file of the nrun before lease files, with two leases inside.
  const nlohmann::json old = {
      {"name", "lab0"},       {"id", std::string(64, 'd')}, {"driver", "bridge"}, {"bridge", "lab0"},
      {"subnet", "10.20.0.0/24"}, {"gateway", "10.20.0.1"},  {"internal", false},  {"mtu", 1500},
      {"created", "now"},
      {"allocations",
       {{"10.20.0.2", {{"container", "old1"}, {"name", "one"}, {"hostname", "h"}, {"aliases", {"x"}}, {"ifname", "eth0"}, {"mac", "m1"}}},
        {"10.20.0.3", {{"container", "old2"}, {"name", "two"}, {"hostname", "h"}, {"aliases", nlohmann::json::array()}, {"ifname", "eth0"}, {"mac", "m2"}}}}}};
  std::ofstream(tmp.path() / "networks/lab0.json") << old.dump(2);
  NetworkStore store(tmp.path());
  // Read as they are.
  const auto before = store.get("lab0");
  ASSERT_EQ(before.ipam.leases().size(), 2u);
  EXPECT_EQ(before.ipam.leases().at(parse_ipv4("10.20.0.2")), (Lease{"old1", "one", "h", {"x"}, "eth0", "m1"}));
  EXPECT_EQ(store.try_get_addresses("lab0")->ipam.leases().size(), 2u);
  // The next change moves them into files.
  EXPECT_EQ(attach(store, "new").str(), "10.20.0.4");
  const auto file = nlohmann::json::parse(nrun::sys::read_file((tmp.path() / "networks/lab0.json").string()));
  EXPECT_FALSE(file.contains("allocations")) << file.dump();
  EXPECT_EQ(lease_files(store, "lab0"), (std::set<std::string>{"10.20.0.2", "10.20.0.3", "10.20.0.4"}));
  const auto after = store.get("lab0");
  EXPECT_EQ(after.ipam.leases().at(parse_ipv4("10.20.0.2")), before.ipam.leases().at(parse_ipv4("10.20.0.2")));
  EXPECT_EQ(after.ipam.leases().at(parse_ipv4("10.20.0.3")).name, "two");
  // A release on an old file migrates too, and removes only the owner's.
  std::ofstream(tmp.path() / "networks/lab0.json", std::ios::trunc) << old.dump(2);
  fs::remove_all(store.leases_dir("lab0"));
  {
    auto l = store.lock();
    EXPECT_EQ(store.release("lab0", "old1", {parse_ipv4("10.20.0.2")}), std::vector<Ipv4>{parse_ipv4("10.20.0.2")});
  }
  EXPECT_EQ(lease_files(store, "lab0"), (std::set<std::string>{"10.20.0.3"}));
  EXPECT_FALSE(nlohmann::json::parse(nrun::sys::read_file((tmp.path() / "networks/lab0.json").string()))
                   .contains("allocations"));
}

TEST(NetworkLeases, RemoveDeletesTheLeases) {
  TmpDir tmp;
  NetworkStore store(tmp.path());
  lab0(store);
  attach(store, "a");
  attach(store, "b");
  ASSERT_TRUE(fs::exists(store.leases_dir("lab0")));
  store.remove("lab0");
  EXPECT_FALSE(fs::exists(store.leases_dir("lab0")));
  EXPECT_FALSE(store.try_get("lab0").has_value());
  // A new network of the name starts empty.
  lab0(store);
  EXPECT_TRUE(store.get("lab0").ipam.leases().empty());
  EXPECT_EQ(attach(store, "c").str(), "10.20.0.2");
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
