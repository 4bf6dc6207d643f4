// What a deploy creates, and in which order, decided in pure code from the
// topology: the lab's networks (named after the lab), its nodes as ordinary
// containers named LAB-NODE with every address and MAC fixed in advance,
// the names of their network namespaces under /run/netns, every node's
// /etc/hosts (written once, when all have their addresses), the
// point-to-point links, per-node sysctls, and the exec commands, which run
// once everything else is up.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lab/topology.hpp"
#include "net/netem.hpp"
#include "net/network_store.hpp"
#include "runtime/spec.hpp"

namespace nrun::lab {

// The lab's default node command: one that runs until it is stopped.
inline const std::vector<std::string> kDefaultNodeCommand = {"sleep", "infinity"};

struct PlannedNetwork {
  std::string lab_name;     // as in the file
  net::NewNetwork request;  // request.name: the nrun network, also the bridge
};

// One interface of a node, for inspect and graph.
struct PlannedInterface {
  std::string ifname;
  std::string network;  // the lab network (a bridge attachment), or
  std::string peer;     // NODE:IFACE at the other end of a link
  std::optional<net::Cidr> address;
  net::Mac mac;
};

struct PlannedNode {
  std::string name;       // in the lab
  std::string container;  // LAB-NODE
  runtime::ContainerSpec spec;
  std::vector<PlannedInterface> interfaces;  // ethN of its networks, then its link ends
  std::vector<std::pair<std::string, std::string>> sysctls;
  std::vector<std::vector<std::string>> exec;
};

struct PlannedEnd {
  std::string node, container, ifname;
  net::Mac mac;
  std::optional<net::Cidr> address;
};

struct PlannedLink {
  PlannedEnd a, b;
  unsigned mtu = 0;
  net::NetemSpec netem;
  std::string str() const;  // "r1:eth5 -- r2:eth5"
};

enum class StepKind { create_network, start_node, name_netns, write_hosts, create_link, set_sysctls, run_exec };

struct Step {
  StepKind kind;
  size_t index = 0;    // into networks, nodes or links
  size_t command = 0;  // run_exec: which of the node's commands
  std::string what;    // for progress and failure messages
};

struct LabPlan {
  std::string lab;
  std::vector<PlannedNetwork> networks;
  std::vector<PlannedNode> nodes;
  std::vector<PlannedLink> links;
  std::vector<Step> steps;

  const PlannedNode* find_node(const std::string& name) const;
};

// Throws UsageError when the derived names collide (two lab networks whose
// bridge names would be equal).
LabPlan plan_lab(const Topology& t);

// The gateway of a lab network when the file gives none: the highest host
// address no node asked for, keeping the low ones (.1) for the lab's own
// routers. Addresses left to nrun are planned lowest-first around it.
net::Ipv4 plan_gateway(const LabNetwork& n, const std::vector<net::Ipv4>& taken);

}  // namespace nrun::lab
