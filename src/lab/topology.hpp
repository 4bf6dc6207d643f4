// A lab's topology file: what the user wrote, parsed and checked as a whole
// before anything exists. Pure: nothing here touches the system.
//
//   {
//     "name": "two-lans",
//     "networks": { "lan1": { "subnet": "10.10.1.0/24" }, "lan2": { "subnet": "10.10.2.0/24", "internal": true } },
//     "nodes": {
//       "h1": { "image": "busybox", "cmd": ["sleep", "1d"], "networks": { "lan1": { "ip": "10.10.1.10" } },
//               "exec": ["ip route replace default via 10.10.1.1"] },
//       "r1": { "networks": { "lan1": { "ip": "10.10.1.1" }, "lan2": { "ip": "10.10.2.1" } },
//               "sysctls": { "net.ipv4.ip_forward": "1" } }
//     },
//     "links": [ { "endpoints": ["r1:eth5", "r2:eth5"], "ips": ["192.168.100.1/30", "192.168.100.2/30"],
//                  "netem": { "delay": "20ms", "jitter": "2ms", "loss": "0.5%", "rate": "100mbit" } } ]
//   }
//
// Every problem is a UsageError "FILE:LINE: PATH: what is wrong", PATH being
// the key as written (nodes.h1.networks.lan1.ip).
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/ip.hpp"
#include "net/netem.hpp"
#include "net/options.hpp"
#include "runtime/resources.hpp"
#include "runtime/spec.hpp"

namespace nrun::lab {

inline constexpr size_t kMaxLabNameLen = 40;
inline constexpr size_t kMaxNodeNameLen = 40;
inline constexpr size_t kMaxNetworkKeyLen = 32;
inline constexpr unsigned kDefaultLabMtu = 1500;

struct LabNetwork {
  std::string name;  // as in the file
  net::Cidr subnet;
  std::optional<net::Ipv4> gateway;  // the host's address on the bridge; planned when empty
  bool internal = false;
  unsigned mtu = kDefaultLabMtu;
};

struct NodeAttachment {
  std::string network;          // a LabNetwork's name
  std::optional<net::Ipv4> ip;  // planned when empty
};

struct LabNode {
  std::string name;
  std::string image = "busybox";
  std::vector<std::string> cmd;  // empty: the lab default (sleep infinity)
  std::vector<std::string> env;  // KEY=VALUE
  std::vector<runtime::VolumeSpec> volumes;
  std::vector<net::PortSpec> ports;
  runtime::Resources limits;
  std::vector<NodeAttachment> networks;                      // eth0, eth1, ... in the file's order
  std::vector<std::pair<std::string, std::string>> sysctls;  // "net.ipv4.ip_forward" -> "1"
  std::vector<std::vector<std::string>> exec;                // argv of each command, in order
  std::string hostname;                                      // empty: the node's name when it is a hostname
  std::string workdir = "/";
  std::string user;  // USER[:GROUP]; empty: root
  std::vector<std::string> dns;
  // Nodes are network devices: CAP_NET_ADMIN is always added (routes,
  // addresses, sysctls from exec commands); these add more.
  std::vector<std::string> cap_add;
  bool privileged = false;
};

struct LinkEnd {
  std::string node;
  std::string ifname;
  std::optional<net::Cidr> address;  // with its prefix, host bits set
  std::string str() const { return node + ":" + ifname; }
};

struct LabLink {
  LinkEnd a, b;
  unsigned mtu = 0;      // 0: the kernel's default
  net::NetemSpec netem;  // on both ends' egress; empty: none
};

struct Topology {
  std::string name;
  std::vector<LabNetwork> networks;
  std::vector<LabNode> nodes;
  std::vector<LabLink> links;

  const LabNode* find_node(const std::string& name) const;
  const LabNetwork* find_network(const std::string& name) const;
};

// Parses and checks a topology. `source` names the file in messages;
// relative volume sources are taken against `base_dir`.
Topology parse_topology(std::string_view text, const std::string& source, const std::filesystem::path& base_dir);
// Reads `file` and parses it.
Topology load_topology(const std::filesystem::path& file);

// Lab and node names: [a-zA-Z0-9][a-zA-Z0-9_.-], at most 40 characters.
bool is_valid_lab_name(const std::string& name);
// Interface names the kernel takes: 1-15 characters, no '/', ':' or
// whitespace, not "." or "..".
bool is_valid_ifname(const std::string& name);

// Splits a command line into words as a shell would split simple words:
// blanks separate, '...' and "..." quote, backslash escapes. Nothing else
// is special: no variables, globs, pipes or redirections (write
// ["sh", "-c", "..."] for those). Throws UsageError on an open quote.
std::vector<std::string> split_command(std::string_view line);

}  // namespace nrun::lab
