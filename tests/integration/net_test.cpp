// Networking end to end with the real nrun binary: the default bridge, user
// networks with names and isolation, NAT to an "outside world" namespace the
// test makes, published ports (tcp and udp) from outside, from the host and
// from other containers, network connect/disconnect, static addresses,
// concurrency, bad input, and leaks (veths, nft elements, leases) including
// after a monitor killed with SIGKILL.
//
// Everything here changes the network namespace the tests run in, so it
// only runs inside the throwaway namespaces of scripts/test.sh:
//   unshare --net --mount --propagation private -- build/nrun_integration_tests --gtest_filter='Net*'
// Addresses outside containers are TEST-NET ones (RFC 5737) on links this
// file makes and removes.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kUplinkHost = "203.0.113.1";     // the test namespace's "uplink" address
constexpr const char* kUplinkOutside = "203.0.113.2";  // the outside world, the default gateway

// The veths nrun makes: "nr" + 12 hex of the container id + index.
std::vector<std::string> nrun_veths() {
  const RunResult r = run_process({"ip", "-o", "link", "show"});
  std::vector<std::string> out;
  static const std::regex kVeth("^[0-9]+: (nr[0-9a-f]{12}[0-9a-z])[@:]");
  for (const auto& l : lines(r.out)) {
    std::smatch m;
    if (std::regex_search(l, m, kVeth)) out.push_back(m[1]);
  }
  return out;
}

// True when a TCP socket listens on `port` (IPv4 or IPv6) in the namespace
// `prefix` (empty, or nsenter ...) runs `cat` in.
bool listening(std::vector<std::string> prefix, unsigned port) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04X", port);
  prefix.insert(prefix.end(), {"cat", "/proc/net/tcp", "/proc/net/tcp6"});
  for (const auto& l : lines(run_process(prefix).out)) {
    std::istringstream in(l);
    std::string slot, local, remote, state;
    if (!(in >> slot >> local >> remote >> state)) continue;
    if (state == "0A" && local.size() > 5 && local.substr(local.size() - 5) == std::string(":") + hex) return true;
  }
  return false;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string nft_maps() {
  return run_process({"nft", "list", "map", "inet", "nrun", "dnat_any"}).out +
         run_process({"nft", "list", "map", "inet", "nrun", "dnat_ip"}).out;
}

std::string monitor_pid_of(const fs::path& root, const std::string& id) {
  const auto st = json::parse(read_file(root / "containers" / id / "state.json"));
  return std::to_string(st.value("monitor_pid", 0));
}

// A namespace playing the world outside the host: an uplink veth whose
// host end has 203.0.113.1/24 and whose other end, 203.0.113.2, is the test
// namespace's default gateway. It has no route back to any container
// subnet, so a reply reaches a container only through masquerade.
class OutsideWorld {
 public:
  OutsideWorld() : sleeper_({"unshare", "--net", "sleep", "600"}) {
    const std::string self_ns = fs::read_symlink("/proc/self/ns/net");
    const std::string ns_path = "/proc/" + std::to_string(sleeper_.pid()) + "/ns/net";
    wait_until([&] {
      std::error_code ec;
      return fs::read_symlink(ns_path, ec) != self_ns && !ec;
    });
    pid_ = std::to_string(sleeper_.pid());
    must({"ip", "link", "add", "nrit-up0", "type", "veth", "peer", "name", "eth0", "netns", pid_});
    must({"ip", "addr", "add", std::string(kUplinkHost) + "/24", "dev", "nrit-up0"});
    must({"ip", "link", "set", "nrit-up0", "up"});
    must(in({"ip", "addr", "add", std::string(kUplinkOutside) + "/24", "dev", "eth0"}));
    must(in({"ip", "link", "set", "eth0", "up"}));
    must(in({"ip", "link", "set", "lo", "up"}));
    must({"ip", "route", "replace", "default", "via", kUplinkOutside});
  }
  ~OutsideWorld() {
    servers_.clear();  // SIGKILLed by pid
    run_process({"ip", "link", "del", "nrit-up0"});  // the route goes with it
  }
  // argv run inside the outside namespace.
  std::vector<std::string> in(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"nsenter", "-t", pid_, "-n"});
    return argv;
  }
  RunResult run(std::vector<std::string> argv) const { return run_process(in(std::move(argv)), "", 20s); }
  // A server that lives as long as this object (nsenter execs it: same pid).
  void serve(std::vector<std::string> argv) { servers_.emplace_back(in(std::move(argv))); }

 private:
  static void must(const std::vector<std::string>& argv) {
    const RunResult r = run_process(argv);
    if (r.exit_code != 0) throw std::runtime_error("outside world: " + r.describe());
  }
  Child sleeper_;
  std::string pid_;
  std::vector<Child> servers_;
};

class NetTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (IsSkipped()) return;
    if (!in_throwaway_namespaces())
      GTEST_SKIP() << "changes the network namespace: only inside scripts/test.sh's namespaces";
    // TEST-NET addresses and links of a failed earlier run are not ours to keep.
    run_process({"ip", "link", "del", "nrit-up0"});
  }

  void TearDown() override {
    if (!root().empty() && !IsSkipped()) {
      // Remove the containers first, then check that nothing of theirs is
      // left: no lease, no veth, no map element.
      std::vector<std::string> args{"rm", "-f"};
      for (const auto& id : record_ids()) args.push_back(id);
      if (args.size() > 2) nrun(args);
      for (const auto& n : lines(nrun({"network", "ls", "-q"}).out)) {
        const auto j = json::parse(nrun({"network", "inspect", n}).out, nullptr, false);
        if (j.is_array() && !j.empty()) {
          EXPECT_TRUE(j[0]["Containers"].empty()) << "stale lease:\n" << j.dump(2);
        }
      }
      std::vector<std::string> veths;
      EXPECT_TRUE(wait_until([&] { return (veths = nrun_veths()).empty(); }, 10s))
          << "veths left: " << ::testing::PrintToString(veths);
      const std::string maps = nft_maps();
      EXPECT_EQ(maps.find("elements"), std::string::npos) << "nft elements left:\n" << maps;
      // The networks (bridges, chains) go with the test.
      for (const auto& n : lines(nrun({"network", "ls", "-q"}).out)) {
        const RunResult rm = nrun({"network", "rm", n});
        EXPECT_EQ(rm.exit_code, 0) << rm;
      }
    }
    NrunTest::TearDown();
  }

  // Address of container `name` in `network`, from `network inspect`.
  std::string ip_of(const std::string& name, const std::string& network = "bridge") {
    const auto j = json::parse(nrun({"network", "inspect", network}).out, nullptr, false);
    if (!j.is_array() || j.empty()) return "";
    for (const auto& [id, c] : j[0]["Containers"].items())
      if (c["Name"] == name) {
        const std::string a = c["IPv4Address"];
        return a.substr(0, a.find('/'));
      }
    return "";
  }
  std::string gateway_of(const std::string& network) {
    const auto j = json::parse(nrun({"network", "inspect", network}).out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0]["Gateway"].get<std::string>() : "";
  }
  RunResult in_container(const std::string& net, const std::vector<std::string>& cmd, Millis timeout = 30s) {
    std::vector<std::string> args{"run", "--rm", "--net", net, "busybox"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    return nrun(args, "", timeout);
  }
  fs::path web_root(const std::string& text) {
    const fs::path www = root() / "www";
    write_file(www / "index.html", text + "\n");
    return www;
  }
};

// ------------------------------------------------------------ default bridge

TEST_F(NetTest, DefaultBridgeContainersPingEachOther) {
  run_detached({"--name", "a", "busybox", "sleep", "60"});
  run_detached({"--name", "b", "busybox", "sleep", "60"});
  const std::string a = ip_of("a"), b = ip_of("b"), gw = gateway_of("bridge");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_NE(a, b);
  // eth0 with its address and a default route via the gateway.
  const RunResult r = nrun({"run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr show eth0; ip route"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("default via " + gw + " dev eth0"), std::string::npos) << r;
  const RunResult ping = nrun({"run", "--rm", "busybox", "sh", "-c", "ping -c1 -W3 " + a + " && ping -c1 -W3 " + b});
  EXPECT_EQ(ping.exit_code, 0) << ping;
  // /etc/hosts and /etc/resolv.conf are nrun's.
  const RunResult files = nrun({"run", "--rm", "--name", "c", "--hostname", "box", "busybox", "sh", "-c",
                                "cat /etc/hosts; echo ---; cat /etc/resolv.conf"});
  ASSERT_EQ(files.exit_code, 0) << files;
  EXPECT_TRUE(std::regex_search(files.out, std::regex("\\n[0-9.]+\\tbox c\\n"))) << files;
  EXPECT_NE(files.out.find("nameserver "), std::string::npos) << files;
}

TEST_F(NetTest, QuickRestartsKeepTheNetwork) {
  run_detached({"--name", "a", "-p", "8097:80", "busybox", "sleep", "60"});
  for (int i = 0; i < 3; ++i) {
    // The previous pair may still wait for its namespace's cleanup.
    ASSERT_EQ(nrun({"stop", "-t", "0", "a"}).exit_code, 0);
    const RunResult start = nrun({"start", "a"});
    ASSERT_EQ(start.exit_code, 0) << start;
  }
  EXPECT_EQ(status_of("a"), "running");
  EXPECT_EQ(nrun({"port", "a"}).out, "80/tcp -> 0.0.0.0:8097\n");
  const std::string ip = ip_of("a");
  ASSERT_FALSE(ip.empty());
  EXPECT_EQ(nrun({"run", "--rm", "busybox", "ping", "-c1", "-W3", ip}).exit_code, 0);
}

// ------------------------------------------------- user networks, isolation

TEST_F(NetTest, UserNetworkNamesAndIsolation) {
  ASSERT_EQ(nrun({"network", "create", "nrit-a"}).exit_code, 0);
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.7.0/24", "nrit-b"}).exit_code, 0);
  run_detached({"--name", "alpha", "--net", "nrit-a", "--network-alias", "web", "busybox", "sleep", "60"});
  const std::string alpha = ip_of("alpha", "nrit-a");
  ASSERT_FALSE(alpha.empty());
  const RunResult by_name = in_container("nrit-a", {"sh", "-c", "ping -c1 -W3 alpha && ping -c1 -W3 web"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name;
  // The third network reaches its own gateway, but not the first network.
  EXPECT_EQ(in_container("nrit-b", {"ping", "-c1", "-W3", "10.213.7.1"}).exit_code, 0);
  const RunResult other = in_container("nrit-b", {"ping", "-c1", "-W1", alpha});
  EXPECT_NE(other.exit_code, 0) << "another network reached " << alpha << ":\n" << other;
  // Nor its names (a DNS lookup of them would only time out).
  const RunResult by_name_other = in_container("nrit-b", {"grep", "-w", "alpha", "/etc/hosts"});
  EXPECT_NE(by_name_other.exit_code, 0) << by_name_other;
  // Attached to both, a container reaches both.
  const RunResult both = nrun({"run", "--rm", "--net", "nrit-b", "--net", "nrit-a", "busybox", "sh", "-c",
                               "ip -o link | grep -c eth; ping -c1 -W3 alpha"});
  EXPECT_EQ(both.exit_code, 0) << both;
  EXPECT_EQ(lines(both.out).at(0), "2") << both;
  // rm is refused while a container is attached.
  expect_usage_error(nrun({"network", "rm", "nrit-a"}), "network in use");
}

TEST_F(NetTest, StaticAddressAndMac) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.8.0/24", "--gateway", "10.213.8.254", "nrit-s"}).exit_code, 0);
  const RunResult r = nrun({"run", "--rm", "--net", "nrit-s", "--ip", "10.213.8.50", "--mac-address",
                            "02:00:00:aa:bb:cc", "busybox", "sh", "-c", "ip -o addr show eth0; ip -o link show eth0; ip route"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("inet 10.213.8.50/24"), std::string::npos) << r;
  EXPECT_NE(r.out.find("02:00:00:aa:bb:cc"), std::string::npos) << r;
  EXPECT_NE(r.out.find("default via 10.213.8.254"), std::string::npos) << r;
  run_detached({"--name", "holder", "--net", "nrit-s", "--ip", "10.213.8.50", "busybox", "sleep", "60"});
  expect_usage_error(nrun({"run", "--net", "nrit-s", "--ip", "10.213.8.50", "busybox", "true"}), "address taken");
  EXPECT_EQ(record_ids().size(), 1u);
}

TEST_F(NetTest, ConnectAndDisconnectARunningContainer) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.9.0/24", "nrit-c"}).exit_code, 0);
  run_detached({"--name", "a", "busybox", "sleep", "60"});
  const RunResult c = nrun({"network", "connect", "--ip", "10.213.9.20", "nrit-c", "a"});
  ASSERT_EQ(c.exit_code, 0) << c;
  EXPECT_EQ(ip_of("a", "nrit-c"), "10.213.9.20");
  EXPECT_EQ(in_container("nrit-c", {"ping", "-c1", "-W3", "10.213.9.20"}).exit_code, 0);
  expect_usage_error(nrun({"network", "connect", "nrit-c", "a"}), "connected twice");
  const RunResult d = nrun({"network", "disconnect", "nrit-c", "a"});
  ASSERT_EQ(d.exit_code, 0) << d;
  EXPECT_EQ(ip_of("a", "nrit-c"), "");
  EXPECT_NE(in_container("nrit-c", {"ping", "-c1", "-W1", "10.213.9.20"}).exit_code, 0);
  EXPECT_FALSE(ip_of("a").empty());  // still on the default network
}

// As in Docker, a container in another's network namespace loses its network
// when the owner stops: the owner's veth goes (it would otherwise live on in
// the shared namespace with an address whose lease is released) and the
// address is free for the next container, with no duplicate on the bridge.
TEST_F(NetTest, OwnerOfASharedNamespaceTakesItsNetworkWhenItStops) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.10.0/24", "nrit-sh"}).exit_code, 0);
  const std::string owner = run_detached({"--name", "owner", "--net", "nrit-sh", "--ip", "10.213.10.5", "busybox",
                                          "sleep", "60"});
  run_detached({"--name", "guest", "--net", "container:owner", "busybox", "sleep", "60"});
  const RunResult before = nrun({"exec", "guest", "ip", "-o", "-4", "addr"});
  ASSERT_EQ(before.exit_code, 0) << before;
  EXPECT_TRUE(contains(before.out, "10.213.10.5/24")) << before;
  EXPECT_TRUE(fs::exists(root() / "containers" / owner / "net-sharers")) << "the guest is recorded";

  ASSERT_EQ(nrun({"stop", "-t", "0", "owner"}).exit_code, 0);
  EXPECT_EQ(status_of("guest"), "running");
  EXPECT_EQ(ip_of("owner", "nrit-sh"), "") << "the lease is released";
  const RunResult after = nrun({"exec", "guest", "ip", "-o", "link"});
  ASSERT_EQ(after.exit_code, 0) << after;
  EXPECT_FALSE(contains(after.out, "eth0")) << "the owner's veth left the shared namespace\n" << after;
  EXPECT_EQ(nrun_veths(), std::vector<std::string>{}) << "no veth of the owner is left on the bridge";

  // The address is free for the next container, and only it holds it now.
  const RunResult reuse = nrun({"run", "--rm", "--net", "nrit-sh", "--ip", "10.213.10.5", "busybox", "ping", "-c1",
                                "-W3", "10.213.10.1"});
  EXPECT_EQ(reuse.exit_code, 0) << reuse;

  // The guest's own teardown takes its marker back; the owner runs again.
  ASSERT_EQ(nrun({"rm", "-f", "guest"}).exit_code, 0);
  EXPECT_TRUE(fs::is_empty(root() / "containers" / owner / "net-sharers"));
  const RunResult start = nrun({"start", "owner"});
  ASSERT_EQ(start.exit_code, 0) << start;
  EXPECT_EQ(ip_of("owner", "nrit-sh"), "10.213.10.5");
}

// --------------------------------------------------------------------- NAT

TEST_F(NetTest, MasqueradeToTheOutsideWorld) {
  OutsideWorld world;
  const fs::path site = root() / "outside";
  write_file(site / "cgi-bin/ip", "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n", 0755);
  world.serve({"busybox", "httpd", "-f", "-p", "8000", "-h", site.string()});
  ASSERT_TRUE(wait_until([&] { return listening(world.in({}), 8000); }));
  const RunResult r = in_container("bridge", {"wget", "-qO-", std::string("http://") + kUplinkOutside + ":8000/cgi-bin/ip"});
  ASSERT_EQ(r.exit_code, 0) << r;
  // httpd listens on IPv6 too and may show the IPv4-mapped form.
  const std::string from = trim(r.out);
  EXPECT_TRUE(from == kUplinkHost || from == std::string("[::ffff:") + kUplinkHost + "]")
      << "the connection should arrive from the host's uplink address, not " << from;
  // An --internal network has no route out.
  ASSERT_EQ(nrun({"network", "create", "--internal", "nrit-i"}).exit_code, 0);
  const RunResult internal =
      in_container("nrit-i", {"sh", "-c", "ip route; timeout 3 wget -qO- http://203.0.113.2:8000/cgi-bin/ip"});
  EXPECT_NE(internal.exit_code, 0) << internal;
  EXPECT_EQ(internal.out.find("default"), std::string::npos) << internal;
}

// ---------------------------------------------------------- published ports

TEST_F(NetTest, PublishedTcpPortFromOutsideHostAndContainers) {
  OutsideWorld world;
  const std::string id = run_detached({"--name", "web", "-p", "8080:80", "-v", web_root("hello-web").string() + ":/www",
                                       "busybox", "httpd", "-f", "-p", "80", "-h", "/www"});
  const RunResult port = nrun({"port", "web"});
  EXPECT_EQ(port.out, "80/tcp -> 0.0.0.0:8080\n") << port;
  const std::string url = std::string("http://") + kUplinkHost + ":8080/";
  RunResult outside;
  ASSERT_TRUE(wait_until([&] { return (outside = world.run({"timeout", "5", "busybox", "wget", "-qO-", url})).exit_code == 0; }))
      << outside;
  EXPECT_EQ(outside.out, "hello-web\n");
  const RunResult host = run_process({"timeout", "5", "busybox", "wget", "-qO-", url});
  EXPECT_EQ(host.out, "hello-web\n") << host;
  const RunResult from_container = in_container("bridge", {"timeout", "5", "wget", "-qO-", url});
  EXPECT_EQ(from_container.out, "hello-web\n") << from_container;
  // Also through the gateway address (the host's address on the bridge).
  const RunResult via_gw = in_container("bridge", {"timeout", "5", "wget", "-qO-", "http://" + gateway_of("bridge") + ":8080/"});
  EXPECT_EQ(via_gw.out, "hello-web\n") << via_gw;
  EXPECT_NE(nft_maps().find(id), std::string::npos) << "the element carries the container id";

  // A published port is taken: by nrun, or by a process listening on the host.
  expect_usage_error(nrun({"run", "-p", "8080:80", "busybox", "true"}), "port published twice");
  Child listener({"busybox", "nc", "-l", "-p", "8091"});
  ASSERT_TRUE(wait_until([&] { return listening({}, 8091); }));
  expect_usage_error(nrun({"run", "-p", "8091:80", "busybox", "true"}), "port listened on");
  EXPECT_EQ(record_ids().size(), 1u);

  // Removing the container removes the forward.
  ASSERT_EQ(nrun({"rm", "-f", "web"}).exit_code, 0);
  EXPECT_EQ(nft_maps().find(id), std::string::npos) << nft_maps();
  EXPECT_NE(world.run({"timeout", "3", "busybox", "wget", "-qO-", url}).exit_code, 0);
}

TEST_F(NetTest, PublishedUdpPortAndPickedPorts) {
  OutsideWorld world;
  // A UDP echo server: busybox has none, so the host's perl, bound in.
  const std::string echo =
      "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 53, Proto => 'udp') or die $!;"
      "while ($s->recv(my $m, 100)) { $s->send(\"pong:$m\") }";
  run_detached({"--name", "dns", "-p", "5353:53/udp", "-p", "80", "-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v",
                "/lib64:/lib64:ro", "busybox", "/usr/bin/perl", "-e", echo});
  const std::string client =
      "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '203.0.113.1:5353', Proto => 'udp') or die;"
      "for (1..20) { $s->send('ping'); my $r = ''; eval { local $SIG{ALRM} = sub { die }; alarm 1; $s->recv($r, 100);"
      " alarm 0; }; if ($r) { print $r; exit 0 } } exit 1";
  const RunResult r = world.run({"perl", "-e", client});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "pong:ping") << r;
  // -p 80 picked a free host port.
  const RunResult port = nrun({"port", "dns"});
  EXPECT_TRUE(std::regex_search(port.out, std::regex("80/tcp -> 0\\.0\\.0\\.0:[0-9]+\\n"))) << port;
  EXPECT_NE(port.out.find("53/udp -> 0.0.0.0:5353"), std::string::npos) << port;
}

// -------------------------------------------------------------- concurrency

TEST_F(NetTest, ThirtyConcurrentContainersGetDistinctAddresses) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.10.0/24", "nrit-many"}).exit_code, 0);
  std::vector<Child> runs;
  for (int i = 0; i < 30; ++i)
    runs.push_back(nrun_async({"run", "-d", "--net", "nrit-many", "busybox", "sh", "-c",
                               "ping -c1 -W10 10.213.10.1 >/dev/null && echo reached; sleep 60"}));
  std::vector<std::string> ids;
  for (auto& c : runs) {
    const RunResult r = c.wait(120s);
    EXPECT_EQ(r.exit_code, 0) << r;
    ids.push_back(trim(r.out));
  }
  const auto j = json::parse(nrun({"network", "inspect", "nrit-many"}).out);
  std::set<std::string> addrs;
  for (const auto& [id, c] : j[0]["Containers"].items()) addrs.insert(c["IPv4Address"].get<std::string>());
  EXPECT_EQ(addrs.size(), 30u);
  for (const auto& id : ids)
    EXPECT_TRUE(wait_until([&] { return nrun({"logs", id}).out == "reached\n"; }, 30s, 200ms)) << id;
}

// -------------------------------------------------------------------- leaks

TEST_F(NetTest, NothingLeftAfterAMonitorKilledWithSigkill) {
  ASSERT_EQ(nrun({"network", "create", "nrit-k"}).exit_code, 0);
  const std::string id = run_detached({"--net", "nrit-k", "--net", "bridge", "-p", "8095:80", "busybox", "sleep", "60"});
  EXPECT_EQ(nrun_veths().size(), 2u);
  const std::string monitor = monitor_pid_of(root(), id);
  ASSERT_NE(monitor, "0");
  ASSERT_EQ(::kill(std::stoi(monitor), SIGKILL), 0);
  const RunResult rm = nrun({"rm", "-f", id});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  std::vector<std::string> veths;
  EXPECT_TRUE(wait_until([&] { return (veths = nrun_veths()).empty(); }, 10s)) << ::testing::PrintToString(veths);
  EXPECT_EQ(nft_maps().find(id), std::string::npos) << nft_maps();
  for (const auto& n : {"bridge", "nrit-k"}) {
    const auto j = json::parse(nrun({"network", "inspect", n}).out);
    EXPECT_TRUE(j[0]["Containers"].empty()) << j.dump(2);
  }
}

TEST_F(NetTest, RunRmLeavesNothing) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(nrun({"run", "--rm", "-p", "8096:80", "busybox", "true"}).exit_code, 0);
  EXPECT_TRUE(record_ids().empty());
  // TearDown checks veths, elements and leases.
}

// ---------------------------------------------------------------- bad input

TEST_F(NetTest, BadInputIsExit125AndCreatesNothing) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.11.0/24", "nrit-x"}).exit_code, 0);
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"unknown network", {"run", "--net", "nrit-nope", "busybox", "true"}},
      {"port 0", {"run", "-p", "0:80", "busybox", "true"}},
      {"port 70000", {"run", "-p", "70000:80", "busybox", "true"}},
      {"bad protocol", {"run", "-p", "80/sctp", "busybox", "true"}},
      {"multicast MAC", {"run", "--net", "nrit-x", "--mac-address", "01:00:5e:00:00:01", "busybox", "true"}},
      {"bad MAC", {"run", "--mac-address", "zz:00:00:00:00:01", "busybox", "true"}},
      {"IP outside the subnet", {"run", "--net", "nrit-x", "--ip", "10.99.0.5", "busybox", "true"}},
      {"the gateway as IP", {"run", "--net", "nrit-x", "--ip", "10.213.11.1", "busybox", "true"}},
      {"invalid IP", {"run", "--net", "nrit-x", "--ip", "10.213.11", "busybox", "true"}},
      {"--ip on the default network", {"run", "--ip", "10.88.0.50", "busybox", "true"}},
      {"ports with --net none", {"run", "--net", "none", "-p", "80", "busybox", "true"}},
      {"none with a network", {"run", "--net", "none", "--net", "nrit-x", "busybox", "true"}},
      {"bad DNS", {"run", "--dns", "dns.example", "busybox", "true"}},
  };
  for (const auto& [what, args] : runs) {
    expect_usage_error(nrun(args), what);
    EXPECT_TRUE(record_ids().empty()) << what;
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> creates = {
      {"overlapping subnet", {"network", "create", "--subnet", "10.213.11.128/25", "nrit-y"}},
      {"overlapping a host route", {"network", "create", "--subnet", "127.0.0.0/16", "nrit-y"}},
      {"gateway outside", {"network", "create", "--subnet", "10.213.12.0/24", "--gateway", "10.213.13.1", "nrit-y"}},
      {"invalid CIDR", {"network", "create", "--subnet", "10.213.12.0/33", "nrit-y"}},
      {"host bits", {"network", "create", "--subnet", "10.213.12.1/24", "nrit-y"}},
      {"name too long for a bridge", {"network", "create", "nrit-much-too-long"}},
      {"existing name", {"network", "create", "nrit-x"}},
      {"reserved name", {"network", "create", "host"}},
      {"a link of that name", {"network", "create", "lo"}},
      {"multicast subnet", {"network", "create", "--subnet", "224.0.0.0/24", "nrit-y"}},
      {"link-local subnet", {"network", "create", "--subnet", "169.254.0.0/16", "nrit-y"}},
      {"\"this network\" subnet", {"network", "create", "--subnet", "0.0.0.0/8", "nrit-y"}},
      {"reserved subnet", {"network", "create", "--subnet", "255.255.255.0/24", "nrit-y"}},
  };
  for (const auto& [what, args] : creates) expect_usage_error(nrun(args), what);
  const RunResult ls = nrun({"network", "ls", "-q"});
  EXPECT_EQ(ls.out.find("nrit-y"), std::string::npos) << ls;
  const RunResult links = run_process({"ip", "-o", "link", "show"});
  EXPECT_EQ(links.out.find("nrit-y"), std::string::npos) << links;
  expect_usage_error(nrun({"network", "rm", "nrit-nope"}), "rm of an unknown network");
}


// One corrupt network file blocks nothing else, and network rm removes it.
TEST_F(NetTest, ACorruptNetworkFileBlocksNoOtherNetwork) {
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.40.0/24", "nrit-bad"}).exit_code, 0);
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.41.0/24", "nrit-good"}).exit_code, 0);
  // A torn write: the file's start only. Its bridge goes by hand, as the
  // warning says (the file that named it is unreadable).
  write_file(root() / "networks" / "nrit-bad.json", "{\"name\": \"nrit-ba");
  const RunResult ls = nrun({"network", "ls"});
  EXPECT_EQ(ls.exit_code, 0) << ls;
  EXPECT_NE(ls.out.find("nrit-good"), std::string::npos) << ls;
  EXPECT_NE(ls.err.find("corrupt network file"), std::string::npos) << ls;
  const RunResult r = nrun({"run", "--rm", "--net", "nrit-good", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 0) << r;
  ASSERT_EQ(nrun({"network", "create", "--subnet", "10.213.42.0/24", "nrit-new"}).exit_code, 0);
  const RunResult rm = nrun({"network", "rm", "nrit-bad"});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_FALSE(fs::exists(root() / "networks" / "nrit-bad.json"));
  EXPECT_FALSE(fs::exists(root() / "networks" / "nrit-bad.leases"));
  run_process({"ip", "link", "del", "nrit-bad"});
  EXPECT_EQ(nrun({"network", "ls"}).err, "");
}

}  // namespace
}  // namespace nrun::it
