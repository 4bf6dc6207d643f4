// Attach/detach orchestration against a FakeRtnl and a fake firewall: the
// order of operations, the undo of a failure midway, idempotent teardown,
// teardown without state, ports, peers' /etc/hosts (one by one, and batched
// for labs), connect/disconnect.
#include <gtest/gtest.h>
#include <netlink/errno.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "net/hosts_batch.hpp"
#include "net/network.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/proc.hpp"

using namespace nrun::net;
using nrun::sys::UsageError;
namespace fs = std::filesystem;

namespace {

// What the fakes share: a log of calls and the links of the host namespace.
struct FakeKernel {
  std::vector<std::string> calls;
  std::set<std::string> host_links{"lo", "eth0"};
  std::vector<Cidr> routes;
  std::map<std::string, int> fail;  // operation -> NLE code, thrown once
  void maybe_fail(const std::string& op) {
    auto it = fail.find(op);
    if (it == fail.end()) return;
    const int nle = it->second;
    fail.erase(it);
    throw NetlinkError(nle, op);
  }
};

class FakeRtnl : public Rtnl {
 public:
  FakeRtnl(FakeKernel& k, std::string where) : k_(k), where_(std::move(where)) {}
  void ensure_bridge(const std::string& name, unsigned, std::optional<Mac>) override {
    k_.maybe_fail("ensure_bridge");
    log("ensure_bridge " + name);
    k_.host_links.insert(name);
  }
  void ensure_address(const std::string& ifname, const Cidr& addr) override {
    k_.maybe_fail(where_ + " ensure_address");
    log("ensure_address " + ifname + " " + addr.str());
  }
  void create_veth(const VethSpec& v) override {
    k_.maybe_fail("create_veth");
    log("create_veth " + v.host_name + " peer " + v.peer_name + " master " + v.master +
        (v.peer_mac ? " mac " + v.peer_mac->str() : ""));
    k_.host_links.insert(v.host_name);
  }
  bool delete_link_if_exists(const std::string& name) override {
    log("delete " + name);
    return k_.host_links.erase(name) > 0;
  }
  bool link_exists(const std::string& name) override { return k_.host_links.count(name) > 0; }
  std::vector<std::string> link_names() override { return {k_.host_links.begin(), k_.host_links.end()}; }
  std::vector<Cidr> routed_subnets() override { return k_.routes; }
  void add_default_route(Ipv4 gw, const std::string& ifname) override {
    k_.maybe_fail(where_ + " add_default_route");
    log("default via " + gw.str() + " dev " + ifname);
  }
  void set_link_up(const std::string& ifname) override { log("up " + ifname); }
  std::unique_ptr<Rtnl> open_in(const nrun::sys::Fd&) override {
    k_.maybe_fail("open_in");
    return std::make_unique<FakeRtnl>(k_, "ns");
  }

 private:
  void log(const std::string& s) { k_.calls.push_back(where_ + ": " + s); }
  FakeKernel& k_;
  std::string where_;
};

class FakeFirewall : public Firewall {
 public:
  std::set<std::string> networks;  // bridges with chains
  std::vector<Forward> forwards;
  int fail_add = 0;
  void ensure_network(const FwNetwork& n) override { networks.insert(n.bridge); }
  void remove_network(const FwNetwork& n) override { networks.erase(n.bridge); }
  void add_forwards(const std::vector<Forward>& fs) override {
    if (fail_add) throw nrun::sys::Error("nft add failed");
    for (const auto& f : fs)
      for (const auto& x : forwards)
        if (x.proto == f.proto && x.host_port == f.host_port && x.host_ip == f.host_ip)
          throw PortInUseError("host port " + std::to_string(f.host_port) + " taken");
    forwards.insert(forwards.end(), fs.begin(), fs.end());
  }
  size_t remove_forwards_of(const std::string& owner) override {
    const size_t before = forwards.size();
    forwards.erase(std::remove_if(forwards.begin(), forwards.end(), [&](const Forward& f) { return f.owner == owner; }),
                   forwards.end());
    return before - forwards.size();
  }
  std::vector<Forward> list_forwards() override { return forwards; }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

class AttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nrun-attach-test.XXXXXX";
    root_ = ::mkdtemp(tmpl);
    spit(root_ / "proc/sys/net/ipv4/ip_forward", "0\n");
    spit(root_ / "proc/sys/net/ipv4/ip_local_port_range", "40000\t40010\n");
    spit(root_ / "proc/net/tcp", "  sl  local_address rem_address   st\n   0: 00000000:1F40 00000000:0000 0A 0\n");
    spit(root_ / "resolv.conf", "nameserver 192.0.2.53\n");
    store_ = std::make_unique<NetworkStore>(root_);
    env_ = std::make_unique<NetEnv>(NetEnv{*store_, host_, fw_, root_ / "containers", root_ / "proc/sys",
                                           root_ / "proc/net", root_ / "resolv.conf"});
  }
  void TearDown() override { fs::remove_all(root_); }

  ContainerNetInfo container(const std::string& tag, std::vector<NetworkAttachment> nets,
                             std::vector<PortSpec> ports = {}) {
    ContainerNetInfo c{std::string(64, tag[0]), "c-" + tag, "h-" + tag, std::move(nets), std::move(ports), {}};
    fs::create_directories(root_ / "containers" / c.id);
    return c;
  }
  NetworkConfig network(const std::string& name, const std::string& subnet, bool internal = false) {
    return create_network(*env_, {name, parse_cidr(subnet), std::nullopt, internal, 1500});
  }
  std::vector<std::string> calls_since(size_t n) const { return {k_.calls.begin() + n, k_.calls.end()}; }
  std::string hosts_of(const ContainerNetInfo& c) const { return slurp(root_ / "containers" / c.id / "hosts"); }

  fs::path root_;
  FakeKernel k_;
  FakeRtnl host_{k_, "host"};
  FakeFirewall fw_;
  std::unique_ptr<NetworkStore> store_;
  std::unique_ptr<NetEnv> env_;
  nrun::sys::Fd netns_;  // the fakes never look at it
};

TEST_F(AttachTest, AttachToTheDefaultNetwork) {
  const auto c = container("a", {{"bridge", "", "", {}}});
  const NetState st = attach_container(*env_, c, netns_);
  const std::string veth = "nr" + std::string(12, 'a') + "0";
  EXPECT_EQ(k_.calls, (std::vector<std::string>{
                          "host: ensure_bridge nrun0",
                          "host: ensure_address nrun0 10.88.0.1/16",
                          "host: delete " + veth,
                          "host: create_veth " + veth + " peer eth0 master nrun0 mac 02:42:0a:58:00:02",
                          "ns: ensure_address eth0 10.88.0.2/16",
                          "ns: up eth0",
                          "ns: default via 10.88.0.1 dev eth0",
                      }));
  ASSERT_EQ(st.endpoints.size(), 1u);
  EXPECT_EQ(st.endpoints[0].host_if, veth);
  EXPECT_EQ(st.endpoints[0].ip.str(), "10.88.0.2");
  EXPECT_TRUE(st.endpoints[0].default_route);
  EXPECT_TRUE(fw_.networks.count("nrun0"));
  EXPECT_EQ(slurp(root_ / "proc/sys/net/ipv4/ip_forward"), "1");
  EXPECT_EQ(store_->get("bridge").ipam.address_of(c.id)->str(), "10.88.0.2");
  EXPECT_NE(hosts_of(c).find("10.88.0.2\th-a c-a\n"), std::string::npos) << hosts_of(c);
  EXPECT_EQ(slurp(root_ / "containers" / c.id / "resolv.conf"), "nameserver 192.0.2.53\n");
  // The state survives JSON.
  const NetState back = nlohmann::json(st).get<NetState>();
  EXPECT_EQ(back.endpoints, st.endpoints);
}

TEST_F(AttachTest, DefaultNetworkAvoidsRoutedSubnets) {
  k_.routes = {parse_cidr("10.88.0.0/16")};
  k_.host_links.insert("nrun0");  // another root's bridge
  const auto c = container("a", {{"bridge", "", "", {}}});
  const NetState st = attach_container(*env_, c, netns_);
  EXPECT_EQ(st.endpoints[0].bridge, "nrun1");
  EXPECT_EQ(st.endpoints[0].ip.str(), "172.17.0.2");
}

TEST_F(AttachTest, DetachUndoesEverythingAndIsIdempotent) {
  network("lab0", "10.20.0.0/24");
  const auto c = container("a", {{"lab0", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}});
  const NetState st = attach_container(*env_, c, netns_);
  EXPECT_EQ(fw_.forwards.size(), 1u);
  const size_t n = k_.calls.size();
  ErrorList errs;
  detach_container(*env_, c.id, st, errs);
  EXPECT_TRUE(errs.empty()) << errs.str();
  EXPECT_EQ(calls_since(n), std::vector<std::string>{"host: delete " + st.endpoints[0].host_if});
  EXPECT_TRUE(fw_.forwards.empty());
  EXPECT_TRUE(store_->get("lab0").ipam.leases().empty());
  // Twice: nothing left to undo, no error.
  detach_container(*env_, c.id, st, errs);
  EXPECT_TRUE(errs.empty()) << errs.str();
}

TEST_F(AttachTest, DeadNamespaceLeavesItsVethToTheKernel) {
  const auto c = container("a", {{"bridge", "", "", {}}});
  const NetState st = attach_container(*env_, c, netns_);
  const size_t n = k_.calls.size();
  ErrorList errs;
  detach_container(*env_, c.id, st, errs, /*netns_alive=*/false);
  EXPECT_TRUE(errs.empty()) << errs.str();
  EXPECT_TRUE(calls_since(n).empty());
  EXPECT_TRUE(store_->get("bridge").ipam.leases().empty());
}

TEST_F(AttachTest, FailureMidwayUndoesWhatWasMade) {
  network("lab0", "10.20.0.0/24");
  network("lab1", "10.21.0.0/24");
  const auto c = container("a", {{"lab0", "", "", {}}, {"lab1", "", "", {}}});
  k_.fail["ns ensure_address"] = NLE_NOADDR;  // eth0 fine... the first call fails
  EXPECT_THROW(attach_container(*env_, c, netns_), NetlinkError);
  EXPECT_EQ(k_.host_links.count("nr" + std::string(12, 'a') + "0"), 0u);
  EXPECT_TRUE(store_->get("lab0").ipam.leases().empty());
  EXPECT_TRUE(store_->get("lab1").ipam.leases().empty());

  // Both networks are joined, then publishing fails: both are undone.
  k_.calls.clear();
  const auto c2 = container("b", {{"lab0", "", "", {}}, {"lab1", "10.21.0.9", "", {}}}, {{"", 9000, 0, 90, "tcp"}});
  fw_.fail_add = 1;  // everything is made, then publishing fails
  EXPECT_THROW(attach_container(*env_, c2, netns_), nrun::sys::Error);
  const std::string b0 = "nr" + std::string(12, 'b') + "0", b1 = "nr" + std::string(12, 'b') + "1";
  EXPECT_EQ(k_.host_links.count(b0) + k_.host_links.count(b1), 0u);
  EXPECT_NE(std::find(k_.calls.begin(), k_.calls.end(), "host: delete " + b1), k_.calls.end());
  EXPECT_NE(std::find(k_.calls.begin(), k_.calls.end(), "host: delete " + b0), k_.calls.end());
  EXPECT_TRUE(store_->get("lab0").ipam.leases().empty());
  EXPECT_TRUE(store_->get("lab1").ipam.leases().empty());
  EXPECT_TRUE(fw_.forwards.empty());
}

TEST_F(AttachTest, TeardownWithoutStateFindsEverythingByTheId) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"bridge", "", "", {}}, {"lab0", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}});
  const auto b = container("b", {{"lab0", "", "", {}}}, {{"", 8081, 0, 80, "tcp"}});
  attach_container(*env_, a, netns_);
  const NetState sb = attach_container(*env_, b, netns_);
  ErrorList errs;
  detach_container(*env_, a.id, std::nullopt, errs);  // the state was lost
  EXPECT_TRUE(errs.empty()) << errs.str();
  for (const auto& l : k_.host_links) EXPECT_NE(l.rfind("nr" + std::string(12, 'a'), 0), 0u) << l;
  EXPECT_TRUE(k_.host_links.count(sb.endpoints[0].host_if)) << "another container's veth was removed";
  ASSERT_EQ(fw_.forwards.size(), 1u);
  EXPECT_EQ(fw_.forwards[0].owner, b.id);
  EXPECT_FALSE(store_->get("lab0").ipam.address_of(a.id));
  EXPECT_TRUE(store_->get("lab0").ipam.address_of(b.id));
  EXPECT_TRUE(store_->get("bridge").ipam.leases().empty());
}

TEST_F(AttachTest, PublishedPorts) {
  const auto a = container("a", {{"bridge", "", "", {}}},
                           {{"", 8080, 0, 80, "tcp"}, {"", 0, 0, 81, "tcp"}, {"", 0, 0, 82, "tcp"}, {"127.0.0.1", 53, 0, 53, "udp"}});
  const NetState st = attach_container(*env_, a, netns_);
  ASSERT_EQ(st.ports.size(), 4u);
  EXPECT_EQ(st.ports[0].host_port, 8080);
  EXPECT_EQ(st.ports[1].host_port, 40000);  // the lowest of the ephemeral range
  EXPECT_EQ(st.ports[2].host_port, 40001);
  EXPECT_EQ(st.ports[3].host_ip, parse_ipv4("127.0.0.1"));
  for (const auto& f : st.ports) {
    EXPECT_EQ(f.container_ip, st.endpoints[0].ip);
    EXPECT_EQ(f.owner, a.id);
  }
  // Taken by nrun: refused, and the second container is undone.
  const auto b = container("b", {{"bridge", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}});
  EXPECT_THROW(attach_container(*env_, b, netns_), PortInUseError);
  EXPECT_FALSE(store_->get("bridge").ipam.address_of(b.id));
  // Taken by a process listening on the host (port 8000 in proc/net/tcp).
  const auto c = container("c", {{"bridge", "", "", {}}}, {{"", 8000, 0, 80, "tcp"}});
  EXPECT_THROW(attach_container(*env_, c, netns_), PortInUseError);
  EXPECT_THROW(check_container_options(*env_, c), PortInUseError);
  EXPECT_THROW(check_container_options(*env_, container("d", {{"bridge", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}})),
               PortInUseError);
}

TEST_F(AttachTest, PeersSeeEachOtherByNameOnUserNetworks) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"lab0", "", "", {"web"}}});
  const auto b = container("b", {{"lab0", "", "", {}}});
  attach_container(*env_, a, netns_);
  const NetState sb = attach_container(*env_, b, netns_);
  EXPECT_NE(hosts_of(a).find("10.20.0.3\tc-b\n"), std::string::npos) << hosts_of(a);
  EXPECT_NE(hosts_of(b).find("10.20.0.2\tc-a web\n"), std::string::npos) << hosts_of(b);
  ErrorList errs;
  detach_container(*env_, b.id, sb, errs);
  EXPECT_EQ(hosts_of(a).find("c-b"), std::string::npos) << hosts_of(a);
  // The default network has no name resolution: peers are not listed.
  const auto x = container("x", {{"bridge", "", "", {}}});
  const auto y = container("y", {{"bridge", "", "", {}}});
  attach_container(*env_, x, netns_);
  attach_container(*env_, y, netns_);
  EXPECT_EQ(hosts_of(x).find("c-y"), std::string::npos);
}

TEST_F(AttachTest, InternalNetworks) {
  network("back", "10.30.0.0/24", /*internal=*/true);
  const auto a = container("a", {{"back", "", "", {}}});
  const NetState st = attach_container(*env_, a, netns_);
  EXPECT_FALSE(st.endpoints[0].default_route);
  EXPECT_EQ(std::count_if(k_.calls.begin(), k_.calls.end(), [](const std::string& s) { return s.find("default via") != std::string::npos; }), 0);
  EXPECT_EQ(slurp(root_ / "proc/sys/net/ipv4/ip_forward"), "0\n");  // not needed
  const auto b = container("b", {{"back", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}});
  EXPECT_THROW(check_container_options(*env_, b), UsageError);
  EXPECT_THROW(attach_container(*env_, b, netns_), UsageError);
}

TEST_F(AttachTest, ConnectAndDisconnect) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"bridge", "", "", {}}});
  NetState st = attach_container(*env_, a, netns_);
  const size_t n = k_.calls.size();
  const Endpoint ep = connect_container(*env_, a, st, {"lab0", "10.20.0.7", "", {}}, netns_);
  EXPECT_EQ(ep.ifname, "eth1");
  EXPECT_EQ(ep.host_if, "nr" + std::string(12, 'a') + "1");
  EXPECT_FALSE(ep.default_route);  // eth0 has it
  EXPECT_EQ(st.endpoints.size(), 2u);
  for (const auto& call : calls_since(n)) EXPECT_EQ(call.find("default via"), std::string::npos) << call;
  EXPECT_THROW(connect_container(*env_, a, st, {"lab0", "", "", {}}, netns_), UsageError);
  disconnect_container(*env_, a, st, "lab0");
  EXPECT_EQ(st.endpoints.size(), 1u);
  EXPECT_FALSE(k_.host_links.count(ep.host_if));
  EXPECT_FALSE(store_->get("lab0").ipam.address_of(a.id));
  EXPECT_FALSE(disconnect_container(*env_, a, st, "lab0"));  // idempotent: nothing left to undo
}

// Intent first: the caller records the endpoint before its lease or veth
// exists, so a connect killed at any later point leaves what to undo.
TEST_F(AttachTest, ConnectRecordsTheEndpointBeforeMakingIt) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"bridge", "", "", {}}});
  NetState st = attach_container(*env_, a, netns_);
  std::vector<NetState> recorded;
  const size_t n = k_.calls.size();
  connect_container(*env_, a, st, {"lab0", "10.20.0.7", "", {}}, netns_, [&](const NetState& x) {
    recorded.push_back(x);
    EXPECT_FALSE(fs::exists(store_->leases_dir("lab0") / "10.20.0.7")) << "the lease exists before its record";
    for (const auto& call : calls_since(n))  // the network's bridge may be ensured, nothing of the container
      EXPECT_EQ(call.find("create_veth"), std::string::npos) << "a veth was made before its record";
  });
  ASSERT_EQ(recorded.size(), 1u);
  ASSERT_EQ(recorded[0].endpoints.size(), 2u);
  EXPECT_EQ(recorded[0].endpoints[1].network, "lab0");
  EXPECT_EQ(recorded[0].endpoints[1].ip.str(), "10.20.0.7");
  // What the record names is what detach undoes.
  ErrorList errs;
  detach_container(*env_, a.id, recorded[0], errs);
  EXPECT_TRUE(errs.empty()) << errs.str();
  EXPECT_TRUE(store_->get("lab0").ipam.leases().empty());
}

// A lease of the container with no endpoint recorded (an older nrun's
// connect killed mid-way) is found by the container's id.
TEST_F(AttachTest, DisconnectReleasesAnUnrecordedLeaseById) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"bridge", "", "", {}}});
  NetState st = attach_container(*env_, a, netns_);
  NetState lost = st;
  connect_container(*env_, a, st, {"lab0", "", "", {}}, netns_);
  EXPECT_TRUE(disconnect_container(*env_, a, lost, "lab0"));
  EXPECT_TRUE(store_->get("lab0").ipam.leases().empty());
  EXPECT_FALSE(disconnect_container(*env_, a, lost, "lab0"));
}

TEST_F(AttachTest, ReleaseOrphansFreesWhatGoneContainersHeld) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"lab0", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}});
  const auto b = container("b", {{"lab0", "", "", {}}});
  attach_container(*env_, a, netns_);
  attach_container(*env_, b, netns_);
  spit(store_->leases_dir("lab0") / "10.20.0.99", "{torn");
  EXPECT_EQ(release_orphans(*env_, [&](const std::string& id) { return id == b.id; }), 3u);
  const auto left = store_->get("lab0").ipam.leases();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.begin()->second.container, b.id);
  EXPECT_TRUE(fw_.forwards.empty());
}

TEST_F(AttachTest, ChecksBeforeAnythingExists) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"lab0", "10.20.0.5", "", {}}});
  attach_container(*env_, a, netns_);
  EXPECT_THROW(check_container_options(*env_, container("b", {{"nope", "", "", {}}})), UsageError);
  EXPECT_THROW(check_container_options(*env_, container("b", {{"lab0", "10.20.0.5", "", {}}})), UsageError);
  EXPECT_THROW(check_container_options(*env_, container("b", {{"lab0", "10.99.0.5", "", {}}})), UsageError);
  EXPECT_THROW(check_container_options(*env_, container("b", {{"bridge", "10.88.0.9", "", {}}})), UsageError);
  EXPECT_NO_THROW(check_container_options(*env_, container("b", {{"lab0", "10.20.0.6", "", {}}})));
  const size_t n = k_.calls.size();
  EXPECT_THROW(check_container_options(*env_, container("b", {{"nope", "", "", {}}})), UsageError);
  EXPECT_TRUE(calls_since(n).empty());  // nothing created
}

TEST_F(AttachTest, RemoveNetwork) {
  network("lab0", "10.20.0.0/24");
  EXPECT_TRUE(k_.host_links.count("lab0"));
  const auto a = container("a", {{"lab0", "", "", {}}});
  attach_container(*env_, a, netns_);
  EXPECT_THROW(remove_network(*env_, "lab0", [](const std::string&) { return true; }), UsageError);
  EXPECT_TRUE(store_->try_get("lab0").has_value());
  // A lease whose container record is gone is stale: dropped.
  remove_network(*env_, "lab0", [](const std::string&) { return false; });
  EXPECT_FALSE(store_->try_get("lab0").has_value());
  EXPECT_FALSE(k_.host_links.count("lab0"));
  EXPECT_FALSE(fw_.networks.count("lab0"));
  EXPECT_THROW(remove_network(*env_, "lab0", [](const std::string&) { return false; }), UsageError);
  // create_network refuses bad input before making anything.
  network("lab1", "10.21.0.0/24");
  const size_t n = k_.calls.size();
  EXPECT_THROW(network("lab2", "10.21.0.128/25"), UsageError);  // overlaps lab1
  EXPECT_THROW(create_network(*env_, {"eth0"}), UsageError);   // a link of that name exists
  EXPECT_TRUE(calls_since(n).empty());
}

TEST_F(AttachTest, ABatchedNetworkLeavesPeersFilesToTheBatchsEnd) {
  network("lab0", "10.20.0.0/24");
  network("lan9", "10.29.0.0/24");
  const auto a = container("a", {{"lab0", "", "", {}}});
  const auto b = container("b", {{"lab0", "", "", {}}});
  const auto r = container("r", {{"lab0", "", "", {}}, {"lan9", "", "", {}}});  // on both
  const auto z = container("z", {{"lan9", "", "", {}}});                        // not batched
  attach_container(*env_, z, netns_);
  NetState sb;
  {
    HostsBatch batch(*store_, root_ / "containers");
    batch.add("lab0");
    EXPECT_TRUE(hosts_batched(*store_, "lab0"));
    EXPECT_FALSE(hosts_batched(*store_, "lan9"));
    attach_container(*env_, a, netns_);
    sb = attach_container(*env_, b, netns_);
    attach_container(*env_, r, netns_);
    // Each wrote its own file, with its own entry but no peer of the
    // batched network (an attach reads no other lease: the batch's end
    // tells everyone of everyone); none rewrote a peer's there.
    EXPECT_NE(hosts_of(b).find("c-b"), std::string::npos) << hosts_of(b);
    EXPECT_EQ(hosts_of(b).find("c-a"), std::string::npos) << hosts_of(b);
    EXPECT_EQ(hosts_of(a).find("c-b"), std::string::npos) << hosts_of(a);
    EXPECT_NE(hosts_of(r).find("c-z"), std::string::npos) << hosts_of(r);
    // lan9 is not batched: z heard of r at once.
    EXPECT_NE(hosts_of(z).find("c-r"), std::string::npos) << hosts_of(z);
    batch.end();
    EXPECT_FALSE(hosts_batched(*store_, "lab0"));
    EXPECT_FALSE(fs::exists(store_->dir() / "lab0.hosts-batch"));
  }
  for (const auto* c : {&a, &b, &r})
    for (const auto* peer : {&a, &b, &r})
      if (c != peer) EXPECT_NE(hosts_of(*c).find(peer->name), std::string::npos) << c->name << ":\n" << hosts_of(*c);

  // Detaching under a batch: the others keep the entry until the end,
  // which the batch's destructor runs when end() was not called.
  {
    HostsBatch batch(*store_, root_ / "containers");
    batch.add("lab0");
    ErrorList errs;
    detach_container(*env_, b.id, sb, errs);
    EXPECT_TRUE(errs.empty()) << errs.str();
    EXPECT_NE(hosts_of(a).find("c-b"), std::string::npos);
  }
  EXPECT_EQ(hosts_of(a).find("c-b"), std::string::npos) << hosts_of(a);
  EXPECT_EQ(hosts_of(r).find("c-b"), std::string::npos) << hosts_of(r);
}

TEST_F(AttachTest, AMarkWhoseProcessIsGoneIsNoBatch) {
  network("lab0", "10.20.0.0/24");
  const auto a = container("a", {{"lab0", "", "", {}}});
  const auto b = container("b", {{"lab0", "", "", {}}});
  attach_container(*env_, a, netns_);
  // Our pid with another start time: a deploy killed long ago, pid reused.
  const uint64_t start = nrun::sys::try_process_start_time(::getpid()).value();
  nrun::sys::write_file_atomic((store_->dir() / "lab0.hosts-batch").string(),
                               std::to_string(::getpid()) + " " + std::to_string(start + 1) + "\n");
  EXPECT_FALSE(hosts_batched(*store_, "lab0"));
  attach_container(*env_, b, netns_);
  EXPECT_NE(hosts_of(a).find("c-b"), std::string::npos) << hosts_of(a);
  // network rm takes the mark with it.
  remove_network(*env_, "lab0", [](const std::string&) { return false; });
  EXPECT_FALSE(fs::exists(store_->dir() / "lab0.hosts-batch"));
}

}  // namespace
