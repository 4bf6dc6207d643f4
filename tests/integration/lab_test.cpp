// Labs end to end with the real nrun binary: the examples deployed as they
// are and the reachability each promises (and its absence), impairments
// whose RTT shows and that change while the lab runs, namespaces reachable
// by name for the host's tools, every node resolving every other by name,
// stable MACs, bad files refused before
// anything exists, failed and killed deploys, two labs side by side, and
// destroy leaving nothing: no container, link, bridge, nft element,
// /run/netns entry or lab file.
//
// Everything here changes the namespaces the tests run in (bridges, nft,
// mounts on /run/netns), so it only runs inside throwaway ones:
//   unshare --net --mount --propagation private -- env NRUN_IT_THROWAWAY_NS=1
//       build/nrun_integration_tests --gtest_filter='Lab*'
// (one command line). tests/vm/lab_netem.sh measures impairments on a
// kernel that has netem where this one has not.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kExamples = fs::path(NRUN_SOURCE_DIR) / "examples" / "labs";
const fs::path kNetnsDir = "/run/netns";

struct Rtt {
  double min = 0, avg = 0, max = 0;
};

// busybox ping's "round-trip min/avg/max = 40.3/40.4/40.5 ms".
std::optional<Rtt> parse_rtt(const std::string& out) {
  static const std::regex kLine(R"(min/avg/max = ([0-9.]+)/([0-9.]+)/([0-9.]+) ms)");
  std::smatch m;
  if (!std::regex_search(out, m, kLine)) return std::nullopt;
  return Rtt{std::stod(m[1]), std::stod(m[2]), std::stod(m[3])};
}

std::vector<std::string> links_matching(const std::string& pattern) {
  const std::regex re(pattern);
  std::vector<std::string> out;
  static const std::regex kName("^[0-9]+: ([^:@]+)[@:]");
  for (const auto& l : lines(run_process({"ip", "-o", "link", "show"}).out)) {
    std::smatch m;
    if (std::regex_search(l, m, kName) && std::regex_search(std::string(m[1]), re)) out.push_back(m[1]);
  }
  return out;
}

std::vector<std::string> netns_names_of(const std::string& lab) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kNetnsDir, ec)) {
    const std::string name = e.path().filename();
    if (name.rfind(lab + "-", 0) == 0) out.push_back(name);
  }
  return out;
}

// Whether this kernel has the netem qdisc (some are built without it):
// probed on the loopback of a namespace made for the purpose.
bool kernel_has_netem() {
  static const bool has =
      run_process({"unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}).exit_code ==
      0;
  return has;
}

// A copy of an example without its links' impairments, for kernels
// without netem.
json without_netem(json lab) {
  for (auto& l : lab["links"]) l.erase("netem");
  return lab;
}

class LabTest : public ThrowawayNsTest {
 protected:
  void TearDown() override {
    // active(), not IsSkipped(): a test may skip its last part after
    // deploying.
    if (!root().empty() && active()) {
      for (const auto& name : lines(nrun({"lab", "ls", "-q"}).out)) {
        const RunResult r = nrun({"lab", "destroy", name});
        EXPECT_EQ(r.exit_code, 0) << "teardown: lab destroy " << name << ":\n" << r;
        expect_lab_gone(name);
      }
    }
    ThrowawayNsTest::TearDown();
  }

  // Asserts that nothing of lab `name` is left.
  void expect_lab_gone(const std::string& name, const std::vector<std::string>& bridges = {}) {
    SCOPED_TRACE("lab " + name);
    EXPECT_FALSE(fs::exists(root() / "labs" / (name + ".json"))) << "lab file left";
    EXPECT_EQ(nrun({"lab", "inspect", name}).exit_code, 125);
    EXPECT_TRUE(netns_names_of(name).empty())
        << "/run/netns entries left: " << ::testing::PrintToString(netns_names_of(name));
    std::vector<std::string> left;
    EXPECT_TRUE(wait_until([&] { return (left = record_ids()).empty(); }, 10s))
        << "containers left: " << ::testing::PrintToString(left);
    for (const auto& n : lines(nrun({"network", "ls", "-q"}).out))
      EXPECT_NE(n.rfind(name.substr(0, 4), 0), 0u) << "network left: " << n;
    for (const auto& b : bridges) EXPECT_TRUE(links_matching("^" + b + "$").empty()) << "bridge left: " << b;
    std::vector<std::string> veths;
    EXPECT_TRUE(wait_until([&] { return (veths = links_matching("^nr[0-9a-f]{12}")).empty(); }, 10s))
        << "veths left: " << ::testing::PrintToString(veths);
    const std::string maps = run_process({"nft", "list", "map", "inet", "nrun", "dnat_any"}).out;
    EXPECT_EQ(maps.find("elements"), std::string::npos) << "nft elements left:\n" << maps;
  }

  fs::path write_lab(const std::string& file, const std::string& text) {
    const fs::path p = root() / file;
    write_file(p, text);
    return p;
  }

  RunResult deploy(const fs::path& file, Millis timeout = 120s) {
    return nrun({"lab", "deploy", file.string()}, "", timeout);
  }

  // The example as it is, or without netem where the kernel has none.
  fs::path example(const std::string& file) {
    if (kernel_has_netem()) return kExamples / file;
    const json j = json::parse(read_file(kExamples / file));
    return write_lab(file, without_netem(j).dump(2));
  }

  // Runs a command in a node, as the user would: nrun exec LAB-NODE ...
  RunResult in_node(const std::string& container, std::vector<std::string> cmd, Millis timeout = 30s) {
    cmd.insert(cmd.begin(), {"exec", container});
    return nrun(cmd, "", timeout);
  }

  // One ping first, unmeasured: the first one waits for ARP, a round trip
  // more.
  std::optional<Rtt> ping_rtt(const std::string& container, const std::string& to, int count = 5) {
    in_node(container, {"ping", "-c", "1", "-W", "3", to});
    const RunResult r = in_node(container, {"ping", "-c", std::to_string(count), "-i", "0.2", "-W", "3", to});
    EXPECT_EQ(r.exit_code, 0) << r;
    const auto rtt = parse_rtt(r.out);
    EXPECT_TRUE(rtt) << r;
    return rtt;
  }

  json inspect_lab(const std::string& name) {
    const RunResult r = nrun({"lab", "inspect", "--format", "json", name});
    EXPECT_EQ(r.exit_code, 0) << r;
    return json::parse(r.out, nullptr, false);
  }
};

// A lab of two nodes joined by one link with the given impairment.
std::string pair_lab(const std::string& name, const std::string& netem) {
  return R"({"name": ")" + name + R"(", "nodes": {"a": {}, "b": {}},
    "links": [{"endpoints": ["a:eth1", "b:eth1"], "ips": ["10.99.0.1/30", "10.99.0.2/30"], "netem": )" +
         netem + "}]}";
}

// ----------------------------------------------------------------- examples

TEST_F(LabTest, TwoLansH1ReachesH2OnlyThroughR1) {
  const fs::path file = example("two-lans.json");
  const RunResult up = deploy(file);
  ASSERT_EQ(up.exit_code, 0) << up;
  for (const char* node : {"h1", "r1", "h2", "r2"}) EXPECT_NE(up.out.find(node), std::string::npos) << up;

  // Nodes are ordinary containers named LAB-NODE.
  EXPECT_EQ(status_of("two-lans-h1"), "running");
  const RunResult ping = in_node("two-lans-h1", {"ping", "-c", "1", "-W", "3", "10.10.2.10"});
  EXPECT_EQ(ping.exit_code, 0) << ping;
  const RunResult trace =
      nrun({"lab", "exec", "two-lans", "h1", "traceroute", "-n", "-m", "3", "-w", "2", "10.10.2.10"});
  EXPECT_EQ(trace.exit_code, 0) << trace;
  EXPECT_TRUE(std::regex_search(trace.out, std::regex(R"(\n\s*1\s+10\.10\.1\.1\s)"))) << "r1 is the first hop:\n"
                                                                                      << trace;
  // h2 resolves by the node's name on its network, too.
  EXPECT_EQ(in_node("two-lans-r1", {"ping", "-c", "1", "-W", "3", "h2"}).exit_code, 0);

  // The namespaces are reachable by name for the host's tools.
  const RunResult names = run_process({"ip", "netns", "list"});
  for (const char* n : {"two-lans-h1", "two-lans-r1", "two-lans-h2", "two-lans-r2"})
    EXPECT_NE(names.out.find(n), std::string::npos) << names;
  if (kernel_has_netem()) {
    const RunResult qdisc = run_process({"ip", "netns", "exec", "two-lans-r1", "tc", "qdisc", "show", "dev", "eth5"});
    EXPECT_NE(qdisc.out.find("netem"), std::string::npos) << qdisc;
    EXPECT_NE(qdisc.out.find("delay 20ms"), std::string::npos) << qdisc;
    EXPECT_NE(qdisc.out.find("tbf"), std::string::npos) << "the rate is a tbf under netem:\n" << qdisc;
  }

  // MACs are derived from the names: inspect, the kernel and the next
  // deploy agree.
  const json j = inspect_lab("two-lans");
  ASSERT_TRUE(j.is_object()) << j;
  EXPECT_EQ(j["Status"], "deployed");
  std::string r1_eth5_mac;
  for (const auto& n : j["Nodes"]) {
    EXPECT_EQ(n["State"], "running") << n;
    if (n["Name"] == "r1")
      for (const auto& i : n["Interfaces"])
        if (i["Name"] == "eth5") {
          r1_eth5_mac = i["MacAddress"];
          EXPECT_EQ(i["Address"], "192.168.100.1/30");
          EXPECT_EQ(i["Peer"], "r2:eth5");
        }
  }
  ASSERT_FALSE(r1_eth5_mac.empty()) << j.dump(2);
  const RunResult link = run_process({"ip", "netns", "exec", "two-lans-r1", "ip", "-o", "link", "show", "eth5"});
  EXPECT_NE(link.out.find(r1_eth5_mac), std::string::npos) << link;

  // Without forwarding in r1, h1 no longer reaches lan2 (the host routes
  // nothing between the lab's networks either).
  ASSERT_EQ(run_process({"ip", "netns", "exec", "two-lans-r1", "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward"})
                .exit_code,
            0);
  EXPECT_NE(in_node("two-lans-h1", {"ping", "-c", "1", "-W", "2", "10.10.2.10"}).exit_code, 0);

  // --reconfigure: the same lab again, with the same MACs.
  const RunResult again = nrun({"lab", "deploy", "--reconfigure", file.string()}, "", 120s);
  ASSERT_EQ(again.exit_code, 0) << again;
  EXPECT_EQ(in_node("two-lans-h1", {"ping", "-c", "1", "-W", "3", "10.10.2.10"}).exit_code, 0);
  const RunResult link2 = run_process({"ip", "netns", "exec", "two-lans-r1", "ip", "-o", "link", "show", "eth5"});
  EXPECT_NE(link2.out.find(r1_eth5_mac), std::string::npos) << link2;
  // Without --reconfigure a deployed lab is refused.
  expect_usage_error(deploy(file), "already deployed");

  const RunResult down = nrun({"lab", "destroy", "two-lans"});
  EXPECT_EQ(down.exit_code, 0) << down;
  expect_lab_gone("two-lans", {"two-lans-lan1", "two-lans-lan2"});
}

TEST_F(LabTest, RouterTwoLansTracerouteShowsTheRouter) {
  const RunResult up = deploy(kExamples / "router-two-lans.json");
  ASSERT_EQ(up.exit_code, 0) << up;
  const RunResult trace = nrun({"lab", "exec", "router", "h1", "traceroute", "-n", "-m", "3", "-w", "2", "10.40.2.10"});
  EXPECT_EQ(trace.exit_code, 0) << trace;
  EXPECT_TRUE(std::regex_search(trace.out, std::regex(R"(\n\s*1\s+10\.40\.1\.1\s)"))) << trace;
  EXPECT_TRUE(std::regex_search(trace.out, std::regex(R"(\n\s*2\s+10\.40\.2\.10\s)"))) << trace;
  ASSERT_EQ(nrun({"lab", "destroy", (kExamples / "router-two-lans.json").string()}).exit_code, 0);  // by file
  expect_lab_gone("router", {"router-lan1", "router-lan2"});
}

TEST_F(LabTest, TriangleWithA50msLink) {
  const RunResult up = deploy(example("triangle.json"));
  ASSERT_EQ(up.exit_code, 0) << up;
  // Every router reaches the others' loopbacks over its static routes.
  for (const char* from : {"triangle-r1", "triangle-r2", "triangle-r3"})
    for (const char* to : {"10.0.0.1", "10.0.0.2", "10.0.0.3"})
      EXPECT_EQ(in_node(from, {"ping", "-c", "1", "-W", "3", to}).exit_code, 0) << from << " -> " << to;
  // A link's interfaces are named as the file says, in both namespaces.
  EXPECT_EQ(run_process({"ip", "netns", "exec", "triangle-r3", "ip", "link", "show", "to-r1"}).exit_code, 0);
  if (kernel_has_netem()) {
    // r1 reaches r2 directly and r3 over the delayed link.
    const auto fast = ping_rtt("triangle-r1", "10.0.0.2", 3);
    const auto slow = ping_rtt("triangle-r1", "10.0.0.3", 10);
    ASSERT_TRUE(fast && slow);
    EXPECT_LT(fast->max, 50) << "no delay on r1-r2";
    EXPECT_GE(slow->min, 100) << "50 ms each way";
    EXPECT_LT(slow->max, 150);
  }
  ASSERT_EQ(nrun({"lab", "destroy", "triangle"}).exit_code, 0);
  expect_lab_gone("triangle");
  if (!kernel_has_netem()) GTEST_SKIP() << "this kernel has no netem qdisc: the 50 ms RTT was not checked";
}

TEST_F(LabTest, TwoHostsPingEachOtherByName) {
  const RunResult up = deploy(kExamples / "two-hosts-one-bridge.json");
  ASSERT_EQ(up.exit_code, 0) << up;
  EXPECT_EQ(nrun({"lab", "exec", "two-hosts", "a", "ping", "-c", "1", "-W", "3", "b"}).exit_code, 0);
  EXPECT_EQ(nrun({"lab", "exec", "two-hosts", "b", "ping", "-c", "1", "-W", "3", "two-hosts-a"}).exit_code, 0);
  ASSERT_EQ(nrun({"lab", "destroy", "two-hosts"}).exit_code, 0);
  expect_lab_gone("two-hosts", {"two-hosts-lan"});
}

// Hosts files are written once per node at the end of the nodes' start
// (a batch), not per peer per start: after deploy every node lists every
// node it shares a network with, by node name and LAB-NODE, and nothing
// from networks it is not on; the exec steps, which run after, resolve
// names; a container run on a lab network and removed again shows up in
// the nodes' files and leaves them.
TEST_F(LabTest, EveryNodeResolvesEveryOtherByName) {
  json lab = {{"name", "names"},
              {"networks", {{"left", {{"subnet", "10.83.0.0/24"}}}, {"right", {{"subnet", "10.84.0.0/24"}}}}},
              {"nodes", json::object()}};
  std::map<std::string, std::set<std::string>> nets_of;  // node -> its networks
  for (int i = 0; i < 6; ++i) nets_of["l" + std::to_string(i)] = {"left"};
  for (int i = 0; i < 3; ++i) nets_of["r" + std::to_string(i)] = {"right"};
  nets_of["gw"] = {"left", "right"};
  for (const auto& [node, nets] : nets_of) {
    json n = {{"networks", json::object()}};
    for (const auto& net : nets) n["networks"][net] = json::object();
    lab["nodes"][node] = n;
  }
  // Exec steps run once every node is up: both names of the last node resolve.
  lab["nodes"]["l0"]["exec"] = {"ping -c 1 -W 3 l5", "ping -c 1 -W 3 names-gw"};
  const RunResult up = deploy(write_lab("names.json", lab.dump(2)));
  ASSERT_EQ(up.exit_code, 0) << up;

  auto hosts_of = [&](const std::string& node) {
    const RunResult r = in_node("names-" + node, {"cat", "/etc/hosts"});
    EXPECT_EQ(r.exit_code, 0) << r;
    return r.out;
  };
  auto lists = [](const std::string& hosts, const std::string& name) {
    return std::regex_search(hosts, std::regex("(^|\\n)[0-9.]+\\t([^\\n]* )?" + name + "( |\\n)"));
  };
  for (const auto& [node, nets] : nets_of) {
    SCOPED_TRACE("node " + node);
    const std::string hosts = hosts_of(node);
    for (const auto& [peer, peer_nets] : nets_of) {
      bool shared = false;
      for (const auto& n : nets) shared |= peer_nets.count(n) > 0;
      EXPECT_EQ(lists(hosts, peer), shared) << peer << " in:\n" << hosts;
      EXPECT_EQ(lists(hosts, "names-" + peer), shared) << "names-" << peer << " in:\n" << hosts;
    }
  }
  // Resolution itself, across the lab and through the router's two networks.
  EXPECT_EQ(nrun({"lab", "exec", "names", "r2", "ping", "-c", "1", "-W", "3", "gw"}).exit_code, 0);
  EXPECT_EQ(nrun({"lab", "exec", "names", "gw", "ping", "-c", "1", "-W", "3", "names-l3"}).exit_code, 0);

  // A single container on a lab network comes and goes, one by one as ever.
  run_detached({"--net", "names-left", "--name", "solo", "busybox", "sleep", "60"});
  EXPECT_TRUE(lists(hosts_of("l4"), "solo")) << hosts_of("l4");
  EXPECT_TRUE(lists(hosts_of("gw"), "solo")) << hosts_of("gw");
  EXPECT_FALSE(lists(hosts_of("r1"), "solo")) << hosts_of("r1");
  EXPECT_EQ(nrun({"exec", "solo", "ping", "-c", "1", "-W", "3", "l2"}).exit_code, 0);
  ASSERT_EQ(nrun({"rm", "-f", "solo"}).exit_code, 0);
  EXPECT_FALSE(lists(hosts_of("l4"), "solo")) << hosts_of("l4");

  ASSERT_EQ(nrun({"lab", "destroy", "names"}).exit_code, 0);
  expect_lab_gone("names", {"names-left", "names-right"});
  // Neither a batch mark nor a name entry is left behind.
  for (const auto& e : fs::directory_iterator(root() / "networks"))
    EXPECT_EQ(e.path().filename().string().find(".hosts-batch"), std::string::npos) << e.path();
  EXPECT_TRUE(fs::is_empty(root() / "containers" / ".names"));
}

TEST_F(LabTest, WebBehindNatIsReachedOnTheHostPort) {
  const RunResult up = deploy(kExamples / "web-behind-nat.json");
  ASSERT_EQ(up.exit_code, 0) << up;
  // From the test's namespace, through the host's address on the lab's bridge.
  RunResult get;
  EXPECT_TRUE(wait_until([&] {
    return (get = run_process({"timeout", "5", busybox_path(), "wget", "-qO-", "http://10.50.0.254:8080/"}))
               .exit_code == 0;
  })) << get;
  EXPECT_EQ(get.out, "hello from the lab\n");
  ASSERT_EQ(nrun({"lab", "destroy", "web"}).exit_code, 0);
  expect_lab_gone("web", {"web-front"});
}

// ------------------------------------------------------------------- netem

TEST_F(LabTest, NetemDelayShowsInRttAndChangesLive) {
  if (!kernel_has_netem())
    GTEST_SKIP() << "this kernel has no netem qdisc (tests/vm/lab_netem.sh checks it on one that has)";
  ASSERT_EQ(deploy(write_lab("rtt.json", pair_lab("rtt", R"({"delay": "20ms"})"))).exit_code, 0);
  const auto base = ping_rtt("rtt-a", "10.99.0.2");
  ASSERT_TRUE(base);
  EXPECT_GE(base->min, 40) << "20 ms on each end";
  EXPECT_LT(base->max, 90);

  // One end to 100 ms while the lab runs: 120 ms round trip.
  const RunResult set = nrun({"lab", "netem", "rtt", "a:eth1", "--delay", "100ms"});
  ASSERT_EQ(set.exit_code, 0) << set;
  const auto slow = ping_rtt("rtt-a", "10.99.0.2");
  ASSERT_TRUE(slow);
  EXPECT_GE(slow->min, 120);
  EXPECT_LT(slow->max, 200);
  const RunResult shown = nrun({"lab", "inspect", "rtt"});
  EXPECT_NE(shown.out.find("delay 100ms"), std::string::npos) << shown;

  // --clear on both ends: no delay at all.
  ASSERT_EQ(nrun({"lab", "netem", "rtt", "a:eth1", "--clear"}).exit_code, 0);
  ASSERT_EQ(nrun({"lab", "netem", "rtt", "b:eth1", "--clear"}).exit_code, 0);
  const auto none = ping_rtt("rtt-a", "10.99.0.2");
  ASSERT_TRUE(none);
  EXPECT_LT(none->max, 20);
  EXPECT_EQ(run_process({"ip", "netns", "exec", "rtt-a", "tc", "qdisc", "show", "dev", "eth1"}).out.find("netem"),
            std::string::npos);
  // Loss and a rate together: netem with tbf under it.
  EXPECT_EQ(nrun({"lab", "netem", "rtt", "a:eth1", "--loss", "1%", "--rate", "10mbit"}).exit_code, 0);
  const std::string qdisc = run_process({"ip", "netns", "exec", "rtt-a", "tc", "qdisc", "show", "dev", "eth1"}).out;
  EXPECT_NE(qdisc.find("netem"), std::string::npos) << qdisc;
  EXPECT_NE(qdisc.find("tbf"), std::string::npos) << qdisc;
  EXPECT_EQ(in_node("rtt-a", {"ping", "-c", "1", "-W", "3", "10.99.0.2"}).exit_code, 0);
}

TEST_F(LabTest, NetemRequestsAreCheckedAndRatesNeedNoNetem) {
  ASSERT_EQ(deploy(write_lab("shape.json", pair_lab("shape", "{}"))).exit_code, 0);
  // A rate alone is a tbf at the root, on any kernel.
  const RunResult set = nrun({"lab", "netem", "shape", "a:eth1", "--rate", "10mbit"});
  ASSERT_EQ(set.exit_code, 0) << set;
  const std::string qdisc = run_process({"ip", "netns", "exec", "shape-a", "tc", "qdisc", "show", "dev", "eth1"}).out;
  EXPECT_NE(qdisc.find("tbf 1: root"), std::string::npos) << qdisc;
  EXPECT_NE(qdisc.find("rate 10Mbit"), std::string::npos) << qdisc;
  EXPECT_NE(nrun({"lab", "inspect", "shape"}).out.find("rate 10mbit"), std::string::npos);
  EXPECT_EQ(in_node("shape-a", {"ping", "-c", "1", "-W", "3", "10.99.0.2"}).exit_code, 0);
  ASSERT_EQ(nrun({"lab", "netem", "shape", "a:eth1", "--clear"}).exit_code, 0);
  EXPECT_NE(run_process({"ip", "netns", "exec", "shape-a", "tc", "qdisc", "show", "dev", "eth1"}).out.find("noqueue"),
            std::string::npos);
  // Clearing what is clear is fine.
  EXPECT_EQ(nrun({"lab", "netem", "shape", "a:eth1", "--clear"}).exit_code, 0);
  EXPECT_EQ(nrun({"lab", "inspect", "shape"}).out.find("rate 10mbit"), std::string::npos);

  // Bad requests: exit 125 and nothing changed.
  expect_usage_error(nrun({"lab", "netem", "shape", "a:eth1", "--delay", "fast"}), "bad delay");
  expect_usage_error(nrun({"lab", "netem", "shape", "a:eth1", "--jitter", "5ms"}), "jitter without delay");
  expect_usage_error(nrun({"lab", "netem", "shape", "c:eth1", "--delay", "5ms"}), "unknown node");
  expect_usage_error(nrun({"lab", "netem", "shape", "a:eth9", "--delay", "5ms"}), "unknown interface");
  expect_usage_error(nrun({"lab", "netem", "shape", "a:eth1"}), "nothing to set");
  expect_usage_error(nrun({"lab", "netem", "shape", "a:eth1", "--clear", "--loss", "1%"}), "clear and set");
  expect_usage_error(nrun({"lab", "netem", "nolab", "a:eth1", "--clear"}), "unknown lab");
}

// ----------------------------------------------------------- bad input

TEST_F(LabTest, BadFilesAreRejectedBeforeAnythingExists) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"name\": \"bad\", \"nodes\": {", "invalid JSON"},
      {R"({"name": "bad", "nodes": {"a": {"imag": "busybox"}}})", "nodes.a.imag: unknown key"},
      {R"({"name": "bad", "nodes": {"a": {}}, "links": [{"endpoints": ["a:e1", "zz:e1"]}]})", "unknown node 'zz'"},
      {R"({"name": "bad", "nodes": {"a": {}, "b": {}}, "links": [{"endpoints": ["a:e1", "b:e1"]}, {"endpoints": ["a:e1", "b:e2"]}]})",
       "used twice"},
      {R"({"name": "bad", "networks": {"n": {"subnet": "10.77.0.0/24"}},
           "nodes": {"a": {"networks": {"n": {"ip": "10.77.0.5"}}}, "b": {"networks": {"n": {"ip": "10.77.0.5"}}}}})",
       "used twice"},
      {R"({"name": "bad", "networks": {"n": {"subnet": "10.77.0.0/24"}}, "nodes": {"a": {"networks": {"n": {"ip": "10.78.0.5"}}}}})",
       "outside network"},
      {R"({"name": "bad", "nodes": {"a": {}, "b": {}}, "links": [{"endpoints": ["a:e1", "b:e1"], "netem": {"loss": "200%"}}]})",
       "invalid loss"},
      // Valid files that cannot be deployed here.
      {R"({"name": "bad", "nodes": {"a": {"image": "no-such-image"}}})", "unknown image"},
      {R"({"name": "bad", "nodes": {"a": {"volumes": ["/no/such/dir:/x"]}}})", "does not exist"},
  };
  for (const auto& [text, why] : bad) {
    const RunResult r = deploy(write_lab("bad.json", text));
    expect_usage_error(r, why);
    EXPECT_NE(r.err.find(why), std::string::npos) << r;
    EXPECT_TRUE(record_ids().empty());
    EXPECT_FALSE(fs::exists(root() / "labs" / "bad.json"));
    EXPECT_TRUE(netns_names_of("bad").empty());
  }
  // The line of the bad key is named.
  const RunResult line =
      deploy(write_lab("bad.json", "{\n  \"name\": \"bad\",\n  \"nodes\": {\n    \"a\": { \"cmd\": 5 }\n  }\n}\n"));
  EXPECT_NE(line.err.find("bad.json:4: nodes.a.cmd: expected an array"), std::string::npos) << line;
  // A name in use by a container is refused too.
  run_detached({"--name", "busy-a", "busybox", "sleep", "60"});
  const RunResult taken = deploy(write_lab("busy.json", R"({"name": "busy", "nodes": {"a": {}}})"));
  expect_usage_error(taken, "container name taken");
  EXPECT_EQ(record_ids().size(), 1u);
  EXPECT_TRUE(nrun({"lab", "ls", "-q"}).out.empty());
  EXPECT_EQ(nrun({"rm", "-f", "busy-a"}).exit_code, 0);
}

// ------------------------------------------------------- failure and destroy

TEST_F(LabTest, AFailedDeployRemovesWhatItMade) {
  // Everything is made before the sysctls, and this one does not exist.
  const std::string text = R"({"name": "fails", "networks": {"n": {"subnet": "10.78.0.0/24"}},
    "nodes": {"a": {"networks": {"n": {}}}, "b": {"networks": {"n": {}}, "sysctls": {"net.ipv4.no_such_sysctl": "1"}}},
    "links": [{"endpoints": ["a:eth1", "b:eth1"], "netem": {"rate": "1gbit"}}]})";
  const RunResult r = deploy(write_lab("fails.json", text));
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_NE(r.err.find("set the sysctls of 'b'"), std::string::npos) << r;
  EXPECT_NE(r.err.find("net.ipv4.no_such_sysctl"), std::string::npos) << r;
  EXPECT_NE(r.err.find("everything it had created was removed"), std::string::npos) << r;
  expect_lab_gone("fails", {"fails-n"});

  // A node whose command cannot start: the step that failed is named.
  const RunResult r2 =
      deploy(write_lab("fails.json", R"({"name": "fails", "networks": {"n": {"subnet": "10.78.0.0/24"}},
    "nodes": {"a": {"networks": {"n": {}}}, "b": {"cmd": ["/no/such/command"], "networks": {"n": {}}}}})"));
  EXPECT_EQ(r2.exit_code, 125) << r2;
  EXPECT_NE(r2.err.find("start node 'b'"), std::string::npos) << r2;
  expect_lab_gone("fails", {"fails-n"});

  // An exec command that fails fails the deploy.
  const RunResult r3 = deploy(write_lab("fails.json", R"({"name": "fails", "nodes": {"a": {"exec": ["false"]}}})"));
  EXPECT_EQ(r3.exit_code, 125) << r3;
  EXPECT_NE(r3.err.find("run 'false' in 'a'"), std::string::npos) << r3;
  expect_lab_gone("fails");
}

TEST_F(LabTest, DestroyAfterAKilledDeploy) {
  // The last step blocks, so the deploy can be killed with everything made.
  const fs::path file = write_lab("killed.json", R"({"name": "killed", "networks": {"n": {"subnet": "10.79.0.0/24"}},
    "nodes": {"a": {"networks": {"n": {}}}, "b": {"networks": {"n": {}}, "exec": [["sleep", "60"]]}},
    "links": [{"endpoints": ["a:eth1", "b:eth1"], "ips": ["10.98.0.1/30", "10.98.0.2/30"]}]})");
  Child deploying = nrun_async({"lab", "deploy", file.string()});
  ASSERT_TRUE(wait_until(
      [&] {
        return run_process({"ip", "netns", "exec", "killed-b", "ip", "link", "show", "eth1"}).exit_code == 0 &&
               nrun({"ps", "-q"}).out.find('\n') != std::string::npos && netns_names_of("killed").size() == 2;
      },
      60s, 200ms));
  // While it runs, destroy refuses.
  const RunResult early = nrun({"lab", "destroy", "killed"});
  EXPECT_EQ(early.exit_code, 125) << early;
  EXPECT_NE(early.err.find("being deployed"), std::string::npos) << early;

  ::kill(deploying.pid(), SIGKILL);
  deploying.wait(10s);
  const json j = inspect_lab("killed");
  EXPECT_EQ(j["Status"], "deploying") << j;
  const RunResult down = nrun({"lab", "destroy", "killed"});
  EXPECT_EQ(down.exit_code, 0) << down;
  expect_lab_gone("killed", {"killed-n"});
}

TEST_F(LabTest, TwoLabsSideBySide) {
  const std::string lab = R"({"name": "NAME", "networks": {"lan": {"subnet": "SUBNET"}},
    "nodes": {"a": {"networks": {"lan": {}}}, "b": {"networks": {"lan": {}}}}})";
  auto make = [&](const std::string& name, const std::string& subnet) {
    std::string t = lab;
    t.replace(t.find("NAME"), 4, name);
    t.replace(t.find("SUBNET"), 6, subnet);
    return write_lab(name + ".json", t);
  };
  ASSERT_EQ(deploy(make("left", "10.81.0.0/24")).exit_code, 0);
  ASSERT_EQ(deploy(make("right", "10.82.0.0/24")).exit_code, 0);
  // Same node names, separate containers, networks and bridges.
  EXPECT_EQ(nrun({"lab", "exec", "left", "a", "ping", "-c", "1", "-W", "3", "b"}).exit_code, 0);
  EXPECT_EQ(nrun({"lab", "exec", "right", "a", "ping", "-c", "1", "-W", "3", "b"}).exit_code, 0);
  const RunResult b_right = nrun({"lab", "exec", "right", "b", "ip", "-o", "-4", "addr", "show", "eth0"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(b_right.out, m, std::regex(R"(inet (10\.82\.0\.[0-9]+)/)"))) << b_right;
  EXPECT_NE(nrun({"lab", "exec", "left", "a", "ping", "-c", "1", "-W", "2", m[1].str()}).exit_code, 0)
      << "labs are isolated from each other";
  // An overlapping third lab is refused before anything exists.
  expect_usage_error(deploy(make("third", "10.81.0.0/25")), "overlapping subnet");
  const RunResult ls = nrun({"lab", "ls"});
  EXPECT_NE(ls.out.find("left"), std::string::npos) << ls;
  EXPECT_NE(ls.out.find("2/2"), std::string::npos) << ls;

  ASSERT_EQ(nrun({"lab", "destroy", "left"}).exit_code, 0);
  EXPECT_EQ(nrun({"lab", "exec", "right", "a", "ping", "-c", "1", "-W", "3", "b"}).exit_code, 0)
      << "right is untouched";
  ASSERT_EQ(nrun({"lab", "destroy", "right"}).exit_code, 0);
  expect_lab_gone("left", {"left-lan"});
  expect_lab_gone("right", {"right-lan"});
}

TEST_F(LabTest, GraphDrawsTheTopology) {
  const RunResult dot = nrun({"lab", "graph", (kExamples / "two-lans.json").string()});
  ASSERT_EQ(dot.exit_code, 0) << dot;
  EXPECT_EQ(dot.out.rfind("graph \"two-lans\"", 0), 0u) << dot;
  const fs::path svg = root() / "lab.svg";
  ASSERT_EQ(nrun({"lab", "graph", (kExamples / "triangle.json").string(), "-o", svg.string()}).exit_code, 0);
  EXPECT_EQ(read_file(svg).rfind("<svg ", 0), 0u);
}

}  // namespace
}  // namespace nrun::it
