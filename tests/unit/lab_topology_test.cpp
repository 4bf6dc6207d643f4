// Topology files: a good one parsed completely, and every kind of bad one
// refused with the key's path and line: syntax, unknown keys, unknown
// nodes and networks, interfaces used twice, duplicate addresses,
// addresses outside their networks, bad netem values and more.
#include <gtest/gtest.h>

#include "lab/json_lines.hpp"
#include "lab/topology.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::lab;
using nrun::sys::UsageError;

namespace {

// The example of the issue, one key per line so line numbers are exact.
const char* kTwoLans = R"({
  "name": "two-lans",
  "networks": {
    "lan1": { "subnet": "10.10.1.0/24" },
    "lan2": { "subnet": "10.10.2.0/24", "internal": true }
  },
  "nodes": {
    "h1": {
      "image": "busybox",
      "cmd": ["sleep", "1d"],
      "networks": { "lan1": { "ip": "10.10.1.10" } },
      "exec": ["ip route replace default via 10.10.1.1"]
    },
    "r1": {
      "networks": { "lan1": { "ip": "10.10.1.1" }, "lan2": { "ip": "10.10.2.1" } },
      "sysctls": { "net.ipv4.ip_forward": "1" }
    },
    "h2": {
      "networks": { "lan2": { "ip": "10.10.2.10" } },
      "exec": ["ip route replace default via 10.10.2.1"]
    },
    "r2": {}
  },
  "links": [
    {
      "endpoints": ["r1:eth5", "r2:eth5"],
      "ips": ["192.168.100.1/30", "192.168.100.2/30"],
      "netem": { "delay": "20ms", "jitter": "2ms", "loss": "0.5%", "rate": "100mbit" }
    }
  ]
})";

Topology parse(const std::string& text) { return parse_topology(text, "lab.json", "/labs"); }

// The message of the UsageError parsing `text` throws ("" when none).
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// kTwoLans with `from` replaced by `to` (once; `from` must be there).
std::string with(const std::string& from, const std::string& to, std::string text = kTwoLans) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

#define EXPECT_ERROR(text, needle)                                                \
  do {                                                                            \
    const std::string msg_ = error_of(text);                                      \
    EXPECT_FALSE(msg_.empty()) << "accepted, but should fail with: " << (needle); \
    EXPECT_NE(msg_.find(needle), std::string::npos) << "message: " << msg_;       \
  } while (0)

}  // namespace

TEST(LabTopology, ParsesTheIssueExample) {
  const Topology t = parse(kTwoLans);
  EXPECT_EQ(t.name, "two-lans");
  ASSERT_EQ(t.networks.size(), 2u);
  EXPECT_EQ(t.networks[0].name, "lan1");
  EXPECT_EQ(t.networks[0].subnet.str(), "10.10.1.0/24");
  EXPECT_FALSE(t.networks[0].internal);
  EXPECT_TRUE(t.networks[1].internal);
  EXPECT_FALSE(t.networks[0].gateway);
  // Nodes in the file's order, not sorted.
  ASSERT_EQ(t.nodes.size(), 4u);
  EXPECT_EQ(t.nodes[0].name, "h1");
  EXPECT_EQ(t.nodes[1].name, "r1");
  EXPECT_EQ(t.nodes[2].name, "h2");
  EXPECT_EQ(t.nodes[0].cmd, (std::vector<std::string>{"sleep", "1d"}));
  EXPECT_TRUE(t.nodes[1].cmd.empty());
  EXPECT_EQ(t.nodes[1].image, "busybox");
  ASSERT_EQ(t.nodes[1].networks.size(), 2u);
  EXPECT_EQ(t.nodes[1].networks[1].network, "lan2");
  EXPECT_EQ(t.nodes[1].networks[1].ip->str(), "10.10.2.1");
  EXPECT_EQ(t.nodes[1].sysctls, (std::vector<std::pair<std::string, std::string>>{{"net.ipv4.ip_forward", "1"}}));
  ASSERT_EQ(t.nodes[0].exec.size(), 1u);
  EXPECT_EQ(t.nodes[0].exec[0], (std::vector<std::string>{"ip", "route", "replace", "default", "via", "10.10.1.1"}));
  ASSERT_EQ(t.links.size(), 1u);
  EXPECT_EQ(t.links[0].a.str(), "r1:eth5");
  EXPECT_EQ(t.links[0].b.str(), "r2:eth5");
  EXPECT_EQ(t.links[0].a.address->str(), "192.168.100.1/30");
  EXPECT_EQ(t.links[0].netem.str(), "delay 20ms jitter 2ms loss 0.5% rate 100mbit");
  EXPECT_EQ(t.find_node("h2")->networks[0].network, "lan2");
  EXPECT_EQ(t.find_node("nope"), nullptr);
}

TEST(LabTopology, TakesTheRunOptionsOfNodes) {
  const Topology t =
      parse(R"({"name": "x", "networks": {"n": {"subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "mtu": 9000}},
    "nodes": {"web": {"image": "busybox", "cmd": "httpd -f -p '80'", "env": {"A": "1", "B": 2},
      "volumes": ["www:/www:ro", "/tmp:/data"], "ports": ["8080:80", "9000-9001:90-91/udp"],
      "limits": {"memory": "64m", "cpus": "0.5", "pids_limit": 100, "cpu_shares": 512},
      "networks": {"n": null}, "hostname": "webby", "workdir": "/www", "dns": ["10.1.0.1"],
      "sysctls": {"net.ipv4.conf.all.rp_filter": 0, "net.ipv6.conf.all.disable_ipv6": true},
      "exec": [["sh", "-c", "echo up > /tmp/x"], "echo \"two words\" 'and more'"],
      "cap_add": ["SYS_ADMIN"], "privileged": true}}})");
  const LabNode& n = t.nodes.at(0);
  EXPECT_EQ(t.networks[0].gateway->str(), "10.1.0.1");
  EXPECT_EQ(t.networks[0].mtu, 9000u);
  EXPECT_EQ(n.cmd, (std::vector<std::string>{"httpd", "-f", "-p", "80"}));
  EXPECT_EQ(n.env, (std::vector<std::string>{"A=1", "B=2"}));
  ASSERT_EQ(n.volumes.size(), 2u);
  EXPECT_EQ(n.volumes[0].host, "/labs/www");  // relative to the file's directory
  EXPECT_TRUE(n.volumes[0].read_only);
  EXPECT_EQ(n.ports.size(), 3u);
  EXPECT_EQ(n.limits.memory, 64 << 20);
  EXPECT_EQ(n.limits.nano_cpus, 500000000);
  EXPECT_EQ(n.limits.pids_limit, 100);
  EXPECT_EQ(n.limits.cpu_shares, 512);
  ASSERT_EQ(n.networks.size(), 1u);
  EXPECT_FALSE(n.networks[0].ip);
  EXPECT_EQ(n.hostname, "webby");
  EXPECT_EQ(n.workdir, "/www");
  EXPECT_EQ(n.sysctls[1], (std::pair<std::string, std::string>{"net.ipv6.conf.all.disable_ipv6", "1"}));
  EXPECT_EQ(n.exec[1], (std::vector<std::string>{"echo", "two words", "and more"}));
  EXPECT_EQ(n.cap_add, std::vector<std::string>{"SYS_ADMIN"});
  EXPECT_TRUE(n.privileged);
}

TEST(LabTopology, InvalidJsonNamesTheLine) {
  EXPECT_ERROR("{\n  \"name\": \"x\",\n  \"nodes\": {\n}", "lab.json: invalid JSON");
  EXPECT_ERROR("{\n  \"name\": \"x\",\n  \"nodes\": {\n}", "line 4");
  EXPECT_ERROR("[]", "lab.json: expected an object, not an array");
}

TEST(LabTopology, UnknownKeysNameThePathAndLine) {
  EXPECT_ERROR(with("\"name\": \"two-lans\",", "\"name\": \"two-lans\", \"nodez\": {},"),
               "lab.json:2: nodez: unknown key 'nodez'");
  EXPECT_ERROR(with("\"image\": \"busybox\",", "\"imag\": \"busybox\","),
               "lab.json:9: nodes.h1.imag: unknown key 'imag'");
  EXPECT_ERROR(with("\"subnet\": \"10.10.1.0/24\" }", "\"subnet\": \"10.10.1.0/24\", \"vlan\": 3 }"),
               "lab.json:4: networks.lan1.vlan: unknown key");
  EXPECT_ERROR(with("{ \"ip\": \"10.10.1.10\" }", "{ \"address\": \"10.10.1.10\" }"),
               "lab.json:11: nodes.h1.networks.lan1.address: unknown key 'address'");
  EXPECT_ERROR(with("\"delay\": \"20ms\"", "\"dealy\": \"20ms\""),
               "lab.json:28: links[0].netem.dealy: unknown key 'dealy'");
  EXPECT_ERROR(with("\"endpoints\"", "\"ends\""), "links[0].ends: unknown key");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"limits": {"memory": "1g", "swap": "2g"}}}})",
               "nodes.a.limits.swap: unknown key");
}

TEST(LabTopology, KeysGivenTwiceAreRefused) {
  EXPECT_ERROR(with("\"r2\": {}", "\"r2\": {}, \"h1\": {}"), "lab.json:22: nodes.h1: given twice");
}

TEST(LabTopology, RequiredKeysAndTypes) {
  EXPECT_ERROR(R"({"nodes": {"a": {}}})", "missing key 'name'");
  EXPECT_ERROR(R"({"name": "x"})", "missing key 'nodes'");
  EXPECT_ERROR(R"({"name": "x", "nodes": {}})", "nodes: a lab needs at least one node");
  EXPECT_ERROR(R"({"name": 5, "nodes": {"a": {}}})", "name: expected a string, not a number");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"cmd": 5}}})", "nodes.a.cmd: expected an array");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"cmd": []}}})", "nodes.a.cmd: empty command");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"exec": [""]}}})", "nodes.a.exec[0]: empty command");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"exec": ["echo 'open"]}}})",
               "nodes.a.exec[0]: unterminated single quote");
  EXPECT_ERROR(R"({"name": "x", "networks": {"n": {}}, "nodes": {"a": {}}})", "networks.n: missing key 'subnet'");
  EXPECT_ERROR(R"({"name": "x", "networks": {"n": {"subnet": "10.0.0.0/24", "internal": "yes"}}, "nodes": {"a": {}}})",
               "networks.n.internal: expected true or false");
}

TEST(LabTopology, NamesMustBeValid) {
  EXPECT_ERROR(R"({"name": "bad name", "nodes": {"a": {}}})", "name: invalid lab name 'bad name'");
  EXPECT_ERROR(R"({"name": "-x", "nodes": {"a": {}}})", "invalid lab name");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a/b": {}}})", "invalid node name 'a/b'");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"image": "Bad Image"}}})", "nodes.a.image: invalid image name");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"hostname": "-h"}}})", "nodes.a.hostname: invalid hostname");
  EXPECT_ERROR(R"({"name": "x", "networks": {"n n": {"subnet": "10.0.0.0/24"}}, "nodes": {"a": {}}})",
               "invalid network name 'n n'");
}

TEST(LabTopology, UnknownNodeInALink) {
  EXPECT_ERROR(with("\"r2:eth5\"]", "\"r3:eth5\"]"), "lab.json:26: links[0].endpoints[1]: unknown node 'r3'");
  EXPECT_ERROR(with("\"r2:eth5\"]", "\"r2\"]"), "invalid endpoint 'r2': expected NODE:INTERFACE");
  EXPECT_ERROR(with("\"r2:eth5\"]", "\"r2:eth5\", \"h1:eth3\"]"), "exactly two endpoints");
  EXPECT_ERROR(with("\"r2:eth5\"]", "\"r2:this-name-is-too-long\"]"), "invalid interface name");
  EXPECT_ERROR(with("\"r2:eth5\"]", "\"r2:lo\"]"), "invalid interface name 'lo'");
}

TEST(LabTopology, UnknownNetworkOfANode) {
  EXPECT_ERROR(with("\"lan2\": { \"ip\": \"10.10.2.10\" }", "\"lan3\": { \"ip\": \"10.10.2.10\" }"),
               "lab.json:19: nodes.h2.networks.lan3: unknown network 'lan3'");
}

TEST(LabTopology, AnInterfaceUsedTwice) {
  const std::string second_link = R"(,
    { "endpoints": ["r1:eth5", "h1:eth1"] }
  ])";
  EXPECT_ERROR(with("\n  ]\n}", second_link + "\n}"),
               "links[1].endpoints[0]: interface 'r1:eth5' is used twice (also by links[0].endpoints[0])");
  // r1's second network is its eth1: a link cannot take that name.
  EXPECT_ERROR(with("\"r1:eth5\", \"r2:eth5\"", "\"r1:eth1\", \"r2:eth5\""),
               "links[0].endpoints[0]: interface 'r1:eth1' is used twice (also by nodes.r1.networks.lan2)");
  EXPECT_ERROR(with("\"r1:eth5\", \"r2:eth5\"", "\"r1:eth5\", \"r1:eth5\""),
               "both ends are on node 'r1': a link joins two different nodes");
}

TEST(LabTopology, ALinkFromANodeToItself) {
  EXPECT_ERROR(with("\"r1:eth5\", \"r2:eth5\"", "\"r1:eth5\", \"r1:eth6\""),
               "links[0].endpoints: both ends are on node 'r1': a link joins two different nodes");
}

TEST(LabTopology, DuplicateAddresses) {
  EXPECT_ERROR(with("\"10.10.2.10\" } },\n      \"exec\"", "\"10.10.2.1\" } },\n      \"exec\""),
               "nodes.h2.networks.lan2.ip: address 10.10.2.1 is used twice (also by nodes.r1.networks.lan2.ip)");
  EXPECT_ERROR(with("\"192.168.100.2/30\"", "\"192.168.100.1/30\""),
               "links[0].ips[1]: address 192.168.100.1 is used twice");
  EXPECT_ERROR(with("\"subnet\": \"10.10.1.0/24\" }", "\"subnet\": \"10.10.1.0/24\", \"gateway\": \"10.10.1.1\" }"),
               "address 10.10.1.1 is the gateway of network 'lan1'");
}

TEST(LabTopology, AnAddressOutsideItsNetwork) {
  EXPECT_ERROR(with("\"10.10.1.10\"", "\"10.10.3.10\""),
               "lab.json:11: nodes.h1.networks.lan1.ip: address 10.10.3.10 is outside network 'lan1' (10.10.1.0/24)");
  EXPECT_ERROR(with("\"10.10.1.10\"", "\"10.10.1.255\""), "is the network or broadcast address");
  EXPECT_ERROR(with("\"10.10.1.10\"", "\"10.10.1.300\""), "nodes.h1.networks.lan1.ip: invalid address");
  EXPECT_ERROR(with("\"192.168.100.2/30\"", "\"192.168.101.2/30\""),
               "links[0].ips[1]: address 192.168.101.2/30 is outside the subnet of the other end (192.168.100.0/30)");
  EXPECT_ERROR(with("\"192.168.100.2/30\"", "\"192.168.100.2/29\""), "outside the subnet of the other end");
  EXPECT_ERROR(with("\"192.168.100.2/30\"", "\"192.168.100.3/30\""), "network or broadcast address");
  EXPECT_ERROR(with("\"192.168.100.2/30\"", "\"192.168.100.2\""), "links[0].ips[1]: invalid address");
  EXPECT_ERROR(with("\"192.168.100.1/30\", \"192.168.100.2/30\"", "\"192.168.100.1/30\""), "expected two addresses");
  EXPECT_ERROR(
      R"({"name": "x", "networks": {"n": {"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}}, "nodes": {"a": {}}})",
      "networks.n.gateway: gateway 10.0.1.1 is outside the subnet");
}

TEST(LabTopology, BadSubnets) {
  EXPECT_ERROR(with("\"10.10.2.0/24\"", "\"10.10.2.1/24\""),
               "networks.lan2.subnet: invalid subnet '10.10.2.1/24': host bits");
  EXPECT_ERROR(with("\"10.10.2.0/24\"", "\"10.10.0.0/16\""),
               "networks.lan2.subnet: 10.10.0.0/16 overlaps network 'lan1'");
  EXPECT_ERROR(with("\"10.10.2.0/24\"", "\"10.10.2.0/31\""), "must be between /8 and /30");
}

TEST(LabTopology, BadNetemValues) {
  EXPECT_ERROR(with("\"delay\": \"20ms\"", "\"delay\": \"20\""),
               "lab.json:28: links[0].netem.delay: invalid delay '20'");
  EXPECT_ERROR(with("\"loss\": \"0.5%\"", "\"loss\": \"150%\""), "links[0].netem.loss: invalid loss '150%'");
  EXPECT_ERROR(with("\"rate\": \"100mbit\"", "\"rate\": \"fast\""), "links[0].netem.rate: invalid rate 'fast'");
  EXPECT_ERROR(with("\"delay\": \"20ms\", ", ""), "links[0].netem: a jitter needs a delay");
  EXPECT_ERROR(with("\"rate\": \"100mbit\"", "\"rate\": [1]"), "links[0].netem.rate: expected a string or a number");
}

TEST(LabTopology, OtherNodeErrors) {
  EXPECT_ERROR(with("\"net.ipv4.ip_forward\"", "\"kernel.pid_max\""),
               "nodes.r1.sysctls[\"kernel.pid_max\"]: only network sysctls");
  EXPECT_ERROR(with("\"net.ipv4.ip_forward\"", "\"net..x\""), "invalid sysctl name");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"env": ["=1"]}}})", "nodes.a.env[0]: invalid environment entry");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"volumes": ["/x"]}}})", "nodes.a.volumes[0]: invalid volume");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"ports": ["99999:80"]}}})", "nodes.a.ports[0]: invalid port");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"ports": ["80"]}}})", "published ports need the node on a network");
  EXPECT_ERROR(R"({"name": "x", "networks": {"n": {"subnet": "10.0.0.0/24", "internal": true}},
                  "nodes": {"a": {"ports": ["80"], "networks": {"n": {}}}}})",
               "not internal");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"limits": {"memory": "lots"}}}})",
               "nodes.a.limits.memory: invalid memory 'lots'");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"limits": {"cpus": "-1"}}}})", "nodes.a.limits.cpus: invalid cpus");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"dns": ["dns.example"]}}})", "nodes.a.dns[0]: invalid dns address");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"cap_add": ["NET_WIZARD"]}}})", "nodes.a.cap_add:");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"workdir": "rel"}}})",
               "nodes.a.workdir: container path 'rel' must be absolute");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"user": "4294967296"}}})", "nodes.a.user: invalid uid '4294967296'");
  EXPECT_ERROR(R"({"name": "x", "nodes": {"a": {"user": "frr:4294967295"}}})", "nodes.a.user: invalid gid");
  EXPECT_ERROR(R"({"name": "x", "networks": {"n": {"subnet": "10.0.0.0/24", "mtu": 10}}, "nodes": {"a": {}}})",
               "networks.n.mtu: expected an MTU from 68 to 65535");
}

TEST(LabTopology, ANodesUserGoesToItsContainer) {
  const Topology t = parse(R"({"name": "x", "nodes": {"a": {"user": "1000:1000"}, "b": {}}})");
  EXPECT_EQ(t.nodes.at(0).user, "1000:1000");
  EXPECT_EQ(t.nodes.at(1).user, "");
}

TEST(LabTopology, SplitsCommandLinesWithoutAShell) {
  EXPECT_EQ(split_command("ip route replace default via 10.0.0.1"),
            (std::vector<std::string>{"ip", "route", "replace", "default", "via", "10.0.0.1"}));
  EXPECT_EQ(split_command("  echo  'a b'  \"c \\\"d\\\"\"  e\\ f ''"),
            (std::vector<std::string>{"echo", "a b", "c \"d\"", "e f", ""}));
  EXPECT_EQ(split_command("echo $HOME | wc"), (std::vector<std::string>{"echo", "$HOME", "|", "wc"}));
  EXPECT_TRUE(split_command("   ").empty());
  EXPECT_THROW(split_command("echo \"open"), UsageError);
}

TEST(LabTopology, JsonLinesFindsKeysAndElements) {
  const std::string text = "{\n \"a\": {\n  \"b.c\": [\n   1,\n   {\"d\": 2}\n  ]\n },\n \"e\": \"x\\\"y\"\n}";
  const JsonLines l(text);
  EXPECT_EQ(l.line_of("a"), 2);
  EXPECT_EQ(l.line_of(path_key("a", "b.c")), 3);
  EXPECT_EQ(path_key("a", "b.c"), "a[\"b.c\"]");
  EXPECT_EQ(l.line_of(path_index(path_key("a", "b.c"), 0)), 4);
  EXPECT_EQ(l.line_of(path_key(path_index(path_key("a", "b.c"), 1), "d")), 5);
  EXPECT_EQ(l.line_of("e"), 8);
  EXPECT_EQ(l.line_of("a.zzz"), 2);  // unknown: the closest known parent
  EXPECT_EQ(l.line_of(""), 0);
  EXPECT_TRUE(l.duplicates().empty());
  EXPECT_EQ(JsonLines("{\"a\": 1,\n\"a\": 2}").duplicates(), std::vector<std::string>{"a"});
}

TEST(LabTopology, InterfaceNames) {
  EXPECT_TRUE(is_valid_ifname("eth5"));
  EXPECT_TRUE(is_valid_ifname("to-r2.100"));
  EXPECT_FALSE(is_valid_ifname(""));
  EXPECT_FALSE(is_valid_ifname("sixteen-chars-xx"));
  EXPECT_FALSE(is_valid_ifname("a/b"));
  EXPECT_FALSE(is_valid_ifname("a:b"));
  EXPECT_FALSE(is_valid_ifname("a b"));
  EXPECT_FALSE(is_valid_ifname(".."));
}
