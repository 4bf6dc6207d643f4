#include "lab/plan.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "lab/names.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::lab {
using sys::UsageError;

namespace {
std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Fixes the gateway and every node address of one lab network.
struct AddressPlan {
  net::Ipv4 gateway;
  std::map<std::string, net::Ipv4> node_ip;  // node -> address
};

AddressPlan plan_addresses(const Topology& t, const LabNetwork& n) {
  std::vector<net::Ipv4> statics;
  for (const auto& node : t.nodes)
    for (const auto& a : node.networks)
      if (a.network == n.name && a.ip) statics.push_back(*a.ip);
  AddressPlan p;
  p.gateway = n.gateway ? *n.gateway : plan_gateway(n, statics);
  std::set<net::Ipv4> taken(statics.begin(), statics.end());
  taken.insert(p.gateway);
  uint32_t next = n.subnet.network().value + 1;
  const uint32_t last = n.subnet.broadcast().value - 1;
  for (const auto& node : t.nodes)
    for (const auto& a : node.networks) {
      if (a.network != n.name) continue;
      if (a.ip) {
        p.node_ip[node.name] = *a.ip;
        continue;
      }
      while (next <= last && taken.count(net::Ipv4{next})) ++next;
      if (next > last)
        throw UsageError("network '" + n.name + "' (" + n.subnet.str() + ") has no free address left for node '" +
                         node.name + "'");
      p.node_ip[node.name] = net::Ipv4{next};
      taken.insert(net::Ipv4{next});
    }
  return p;
}
}  // namespace

std::string PlannedLink::str() const { return a.node + ":" + a.ifname + " -- " + b.node + ":" + b.ifname; }

const PlannedNode* LabPlan::find_node(const std::string& name) const {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

net::Ipv4 plan_gateway(const LabNetwork& n, const std::vector<net::Ipv4>& taken) {
  for (uint32_t v = n.subnet.broadcast().value - 1; v > n.subnet.network().value; --v)
    if (std::find(taken.begin(), taken.end(), net::Ipv4{v}) == taken.end()) return net::Ipv4{v};
  throw UsageError("network '" + n.name + "' (" + n.subnet.str() + ") has no address left for the host's gateway");
}

LabPlan plan_lab(const Topology& t) {
  LabPlan plan;
  plan.lab = t.name;

  std::map<std::string, std::string> nrun_name;  // lab network -> nrun network
  std::map<std::string, AddressPlan> addresses;
  std::map<std::string, std::string> owner;  // nrun network -> lab network
  for (const auto& n : t.networks) {
    const std::string name = lab_network_name(t.name, n.name);
    if (const auto [it, fresh] = owner.emplace(name, n.name); !fresh)
      throw UsageError("networks '" + it->second + "' and '" + n.name + "' of lab '" + t.name +
                       "' would share the bridge name '" + name + "': rename one");
    nrun_name[n.name] = name;
    addresses[n.name] = plan_addresses(t, n);
    PlannedNetwork p;
    p.lab_name = n.name;
    p.request.name = name;
    p.request.subnet = n.subnet;
    p.request.gateway = addresses[n.name].gateway;
    p.request.internal = n.internal;
    p.request.mtu = n.mtu;
    p.request.lab = t.name;
    plan.networks.push_back(std::move(p));
  }

  for (const auto& n : t.nodes) {
    PlannedNode p;
    p.name = n.name;
    p.container = node_container_name(t.name, n.name);
    runtime::ContainerSpec& s = p.spec;
    s.name = p.container;
    s.lab = t.name;
    s.image = n.image;
    s.command = n.cmd.empty() ? kDefaultNodeCommand : n.cmd;
    s.hostname = !n.hostname.empty() ? n.hostname : runtime::is_valid_hostname(n.name) ? n.name : "";
    s.env = n.env;
    s.workdir = n.workdir;
    s.user = n.user;
    s.volumes = n.volumes;
    s.ports = n.ports;
    s.dns = n.dns;
    s.resources = n.limits;
    s.cap_add = {"NET_ADMIN"};
    for (const auto& c : n.cap_add)
      if (c != "NET_ADMIN" && c != "CAP_NET_ADMIN") s.cap_add.push_back(c);
    s.privileged = n.privileged;
    s.net = n.networks.empty() ? "none" : nrun_name.at(n.networks[0].network);
    for (size_t i = 0; i < n.networks.size(); ++i) {
      const std::string& lab_net = n.networks[i].network;
      const std::string ifname = "eth" + std::to_string(i);
      const net::Ipv4 ip = addresses.at(lab_net).node_ip.at(n.name);
      const net::Mac mac = interface_mac(t.name, n.name, ifname);
      // The node's own name resolves on its networks, as well as LAB-NODE.
      s.networks.push_back({nrun_name.at(lab_net), ip.str(), mac.str(), {n.name}});
      p.interfaces.push_back({ifname, lab_net, "", net::Cidr{ip, t.find_network(lab_net)->subnet.prefix}, mac});
    }
    p.sysctls = n.sysctls;
    p.exec = n.exec;
    plan.nodes.push_back(std::move(p));
  }

  for (const auto& l : t.links) {
    PlannedLink p;
    auto end = [&](const LinkEnd& e) {
      return PlannedEnd{e.node, node_container_name(t.name, e.node), e.ifname, interface_mac(t.name, e.node, e.ifname),
                        e.address};
    };
    p.a = end(l.a);
    p.b = end(l.b);
    p.mtu = l.mtu;
    p.netem = l.netem;
    for (auto& n : plan.nodes) {
      if (n.name == l.a.node) n.interfaces.push_back({p.a.ifname, "", l.b.str(), p.a.address, p.a.mac});
      if (n.name == l.b.node) n.interfaces.push_back({p.b.ifname, "", l.a.str(), p.b.address, p.b.mac});
    }
    plan.links.push_back(std::move(p));
  }

  // Networks first (nodes join them as they start); each node's namespace
  // is named as soon as it runs, so a failure later can still be looked
  // at; the nodes' /etc/hosts are written once, when every node on the
  // networks has its address (writing every peer's file at each start would
  // make a deploy quadratic); links need both namespaces; sysctls may name link interfaces
  // (net.ipv4.conf.eth5.rp_filter); exec commands see the finished lab.
  for (size_t i = 0; i < plan.networks.size(); ++i) {
    const auto& n = plan.networks[i];
    plan.steps.push_back(
        {StepKind::create_network, i, 0,
         "create network '" + n.lab_name + "' (bridge '" + n.request.name + "', " + n.request.subnet->str() + ")"});
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    plan.steps.push_back({StepKind::start_node, i, 0, "start node '" + plan.nodes[i].name + "'"});
    plan.steps.push_back({StepKind::name_netns, i, 0, "name the network namespace of '" + plan.nodes[i].name + "'"});
  }
  if (!plan.networks.empty()) plan.steps.push_back({StepKind::write_hosts, 0, 0, "write the nodes' /etc/hosts"});
  for (size_t i = 0; i < plan.links.size(); ++i)
    plan.steps.push_back({StepKind::create_link, i, 0, "create link " + plan.links[i].str()});
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    if (!plan.nodes[i].sysctls.empty())
      plan.steps.push_back({StepKind::set_sysctls, i, 0, "set the sysctls of '" + plan.nodes[i].name + "'"});
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    for (size_t k = 0; k < plan.nodes[i].exec.size(); ++k)
      plan.steps.push_back(
          {StepKind::run_exec, i, k, "run '" + joined(plan.nodes[i].exec[k]) + "' in '" + plan.nodes[i].name + "'"});
  return plan;
}

}  // namespace nrun::lab
