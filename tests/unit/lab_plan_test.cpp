// Plans: the order of the steps, the names and MACs derived from the lab,
// the addresses fixed in advance, the nodes' container specs, the record a
// deploy starts from, and the drawings.
#include <gtest/gtest.h>

#include <set>

#include "lab/graph.hpp"
#include "lab/lab_store.hpp"
#include "lab/names.hpp"
#include "lab/plan.hpp"
#include "lab/topology.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::lab;
using nrun::sys::UsageError;

namespace {
const char* kLab = R"({
  "name": "two-lans",
  "networks": { "lan1": { "subnet": "10.10.1.0/24" }, "lan2": { "subnet": "10.10.2.0/24", "internal": true } },
  "nodes": {
    "h1": { "networks": { "lan1": { "ip": "10.10.1.10" } }, "exec": ["ip route replace default via 10.10.1.1"] },
    "r1": { "networks": { "lan1": { "ip": "10.10.1.1" }, "lan2": {} }, "sysctls": { "net.ipv4.ip_forward": "1" } },
    "h2": { "networks": { "lan2": {} }, "exec": ["true", "echo done"] },
    "r2": { "cmd": ["sleep", "1d"] }
  },
  "links": [ { "endpoints": ["r1:eth5", "r2:eth5"], "ips": ["192.168.100.1/30", "192.168.100.2/30"],
               "netem": { "delay": "20ms" } } ]
})";

LabPlan plan_of(const std::string& text) { return plan_lab(parse_topology(text, "lab.json", "/")); }

std::vector<std::string> step_names(const LabPlan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) out.push_back(s.what);
  return out;
}
}  // namespace

TEST(LabPlan, StepsComeInDependencyOrder) {
  const LabPlan p = plan_of(kLab);
  EXPECT_EQ(step_names(p), (std::vector<std::string>{
                               "create network 'lan1' (bridge 'two-lans-lan1', 10.10.1.0/24)",
                               "create network 'lan2' (bridge 'two-lans-lan2', 10.10.2.0/24)",
                               "start node 'h1'",
                               "name the network namespace of 'h1'",
                               "start node 'r1'",
                               "name the network namespace of 'r1'",
                               "start node 'h2'",
                               "name the network namespace of 'h2'",
                               "start node 'r2'",
                               "name the network namespace of 'r2'",
                               "write the nodes' /etc/hosts",
                               "create link r1:eth5 -- r2:eth5",
                               "set the sysctls of 'r1'",
                               "run 'ip route replace default via 10.10.1.1' in 'h1'",
                               "run 'true' in 'h2'",
                               "run 'echo done' in 'h2'",
                           }));
  EXPECT_EQ(p.steps[10].kind, StepKind::write_hosts);
  EXPECT_EQ(p.steps[13].kind, StepKind::run_exec);
  EXPECT_EQ(p.steps[15].index, 2u);
  EXPECT_EQ(p.steps[15].command, 1u);
}

TEST(LabPlan, AddressesAreFixedBeforehand) {
  const LabPlan p = plan_of(kLab);
  // The host's gateway takes the top of each subnet, leaving .1 to routers.
  EXPECT_EQ(p.networks[0].request.gateway->str(), "10.10.1.254");
  EXPECT_EQ(p.networks[1].request.gateway->str(), "10.10.2.254");
  EXPECT_TRUE(p.networks[1].request.internal);
  // Left to nrun: the lowest free address, in node order.
  const PlannedNode& r1 = *p.find_node("r1");
  ASSERT_EQ(r1.spec.networks.size(), 2u);
  EXPECT_EQ(r1.spec.networks[0].ip, "10.10.1.1");
  EXPECT_EQ(r1.spec.networks[1].ip, "10.10.2.1");
  EXPECT_EQ(p.find_node("h2")->spec.networks[0].ip, "10.10.2.2");
}

TEST(LabPlan, AGatewayAvoidsStaticAddresses) {
  LabNetwork n;
  n.name = "n";
  n.subnet = nrun::net::parse_cidr("10.0.0.0/29");
  EXPECT_EQ(plan_gateway(n, {}).str(), "10.0.0.6");
  EXPECT_EQ(plan_gateway(n, {nrun::net::parse_ipv4("10.0.0.6")}).str(), "10.0.0.5");
  std::vector<nrun::net::Ipv4> all;
  for (int i = 1; i <= 6; ++i) all.push_back(nrun::net::parse_ipv4("10.0.0." + std::to_string(i)));
  EXPECT_THROW(plan_gateway(n, all), UsageError);
}

TEST(LabPlan, ASubnetTooSmallForItsNodes) {
  EXPECT_THROW(plan_of(R"({"name": "x", "networks": {"n": {"subnet": "10.0.0.0/30"}},
                          "nodes": {"a": {"networks": {"n": {}}}, "b": {"networks": {"n": {}}}}})"),
               UsageError);
}

TEST(LabPlan, NodesAreContainersNamedAfterTheLab) {
  const LabPlan p = plan_of(kLab);
  const PlannedNode& h1 = *p.find_node("h1");
  EXPECT_EQ(h1.container, "two-lans-h1");
  EXPECT_EQ(h1.spec.name, "two-lans-h1");
  EXPECT_EQ(h1.spec.hostname, "h1");
  // Marked as the lab's, for a destroy whose lab record is torn.
  EXPECT_EQ(h1.spec.lab, "two-lans");
  for (const auto& n : p.networks) EXPECT_EQ(n.request.lab, "two-lans") << n.request.name;
  EXPECT_EQ(h1.spec.image, "busybox");
  EXPECT_EQ(h1.spec.command, kDefaultNodeCommand);
  EXPECT_EQ(h1.spec.net, "two-lans-lan1");
  ASSERT_EQ(h1.spec.networks.size(), 1u);
  EXPECT_EQ(h1.spec.networks[0].network, "two-lans-lan1");
  EXPECT_EQ(h1.spec.networks[0].aliases, std::vector<std::string>{"h1"});
  EXPECT_EQ(h1.spec.networks[0].mac, interface_mac("two-lans", "h1", "eth0").str());
  EXPECT_FALSE(h1.spec.remove);
  EXPECT_EQ(h1.spec.cap_add, std::vector<std::string>{"NET_ADMIN"});  // a network device
  EXPECT_FALSE(h1.spec.privileged);
  const PlannedNode& r2 = *p.find_node("r2");
  EXPECT_EQ(r2.spec.net, "none");  // links only
  EXPECT_EQ(r2.spec.command, (std::vector<std::string>{"sleep", "1d"}));
  // Interfaces: networks first (eth0, eth1), then link ends.
  const PlannedNode& r1 = *p.find_node("r1");
  ASSERT_EQ(r1.interfaces.size(), 3u);
  EXPECT_EQ(r1.interfaces[0].ifname, "eth0");
  EXPECT_EQ(r1.interfaces[0].network, "lan1");
  EXPECT_EQ(r1.interfaces[0].address->str(), "10.10.1.1/24");
  EXPECT_EQ(r1.interfaces[2].ifname, "eth5");
  EXPECT_EQ(r1.interfaces[2].peer, "r2:eth5");
  EXPECT_EQ(r1.interfaces[2].address->str(), "192.168.100.1/30");
  ASSERT_EQ(p.links.size(), 1u);
  EXPECT_EQ(p.links[0].a.container, "two-lans-r1");
  EXPECT_EQ(p.links[0].b.mac, interface_mac("two-lans", "r2", "eth5"));
  EXPECT_EQ(p.links[0].netem.delay_us, 20000u);
}

TEST(LabPlan, NetworkNamesFitABridgeAndStayDistinct) {
  EXPECT_EQ(lab_network_name("two-lans", "lan1"), "two-lans-lan1");
  const std::string a = lab_network_name("datacenter-west", "core");
  const std::string b = lab_network_name("datacenter-east", "core");
  EXPECT_LE(a.size(), 15u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, lab_network_name("datacenter-west", "core"));  // stable
  EXPECT_EQ(a.substr(0, 10), "data-core-");
  // ("a-b", "c") and ("a", "b-c") are different labs' networks.
  EXPECT_NE(lab_network_name("aaaaaaaa-bbbbbbb", "c"), lab_network_name("aaaaaaaa", "bbbbbbb-c"));
  const LabPlan p = plan_of(R"({"name": "a-rather-long-lab-name", "networks": {
      "backbone-1": {"subnet": "10.1.0.0/24"}, "backbone-2": {"subnet": "10.2.0.0/24"}}, "nodes": {"n": {}}})");
  EXPECT_NE(p.networks[0].request.name, p.networks[1].request.name);
  for (const auto& n : p.networks) EXPECT_LE(n.request.name.size(), 15u) << n.request.name;
}

TEST(LabPlan, MacsAreStableLocalUnicastAndDistinct) {
  const auto m = interface_mac("two-lans", "r1", "eth5");
  EXPECT_EQ(m, interface_mac("two-lans", "r1", "eth5"));
  EXPECT_EQ(m.octets[0] & 0x01, 0);  // unicast
  EXPECT_EQ(m.octets[0] & 0x02, 2);  // locally administered
  std::set<nrun::net::Mac> seen;
  for (const char* lab : {"a", "b", "two-lans"})
    for (const char* node : {"r1", "r2", "h1"})
      for (const char* ifname : {"eth0", "eth1", "eth5"}) {
        const auto mac = interface_mac(lab, node, ifname);
        EXPECT_TRUE(seen.insert(mac).second) << lab << " " << node << " " << ifname;
        EXPECT_FALSE(mac.octets[0] == 0x02 && mac.octets[1] == 0x42);
      }
  EXPECT_NE(interface_mac("a-b", "c", "eth0"), interface_mac("a", "b-c", "eth0"));
}

TEST(LabPlan, TheRecordDescribesThePlanAndRoundTrips) {
  const LabPlan p = plan_of(kLab);
  LabRecord r = describe_plan(p);
  EXPECT_EQ(r.name, "two-lans");
  ASSERT_EQ(r.lab_networks.size(), 2u);
  EXPECT_EQ(r.lab_networks[1].network, "two-lans-lan2");
  ASSERT_EQ(r.nodes.size(), 4u);
  EXPECT_EQ(r.nodes[1].interfaces[2].peer, "r2:eth5");
  EXPECT_EQ(r.links, std::vector<std::string>{"r1:eth5 -- r2:eth5"});
  EXPECT_EQ(r.netem.at("r2:eth5").str(), "delay 20ms");
  EXPECT_TRUE(r.containers.empty());  // nothing created yet
  r.containers = {"two-lans-h1"};
  r.networks = {"two-lans-lan1"};
  r.netns = {"two-lans-h1"};
  r.status = LabStatus::deployed;
  const LabRecord back = nlohmann::json(r).get<LabRecord>();
  EXPECT_EQ(back.nodes, r.nodes);
  EXPECT_EQ(back.lab_networks, r.lab_networks);
  EXPECT_EQ(back.containers, r.containers);
  EXPECT_EQ(back.networks, r.networks);
  EXPECT_EQ(back.netns, r.netns);
  EXPECT_EQ(back.status, LabStatus::deployed);
  EXPECT_EQ(back.netem.at("r1:eth5"), r.netem.at("r1:eth5"));
}

TEST(LabPlan, Drawings) {
  const LabPlan p = plan_of(kLab);
  const std::string dot = lab_dot(p);
  EXPECT_EQ(dot.rfind("graph \"two-lans\" {", 0), 0u) << dot;
  EXPECT_NE(dot.find("\"h1\" -- \"net:lan1\" [label=\"eth0 10.10.1.10/24\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("\"r1\" -- \"r2\" [label=\"eth5 192.168.100.1/30 -- eth5 192.168.100.2/30\\ndelay 20ms\"]"),
            std::string::npos)
      << dot;
  const std::string svg = lab_svg(p);
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  EXPECT_NE(svg.find(">lan2</text>"), std::string::npos);
  EXPECT_NE(svg.find(">delay 20ms</text>"), std::string::npos);
}
