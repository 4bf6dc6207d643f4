// What can be done to a running lab: change an impairment, look at it.
#include <algorithm>
#include <map>

#include "lab/deploy.hpp"
#include "lab/node_access.hpp"
#include "net/netlink.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::lab {

void set_interface_netem(const LabPaths& paths, const std::string& lab, const std::string& node,
                         const std::string& ifname, const net::NetemSpec& spec) {
  LabStore labs(paths.root);
  const LabRecord rec = labs.get(lab);
  const auto n = std::find_if(rec.nodes.begin(), rec.nodes.end(), [&](const NodeRecord& x) { return x.name == node; });
  if (n == rec.nodes.end()) throw sys::UsageError("lab '" + lab + "' has no node '" + node + "'");
  if (std::none_of(n->interfaces.begin(), n->interfaces.end(),
                   [&](const InterfaceRecord& i) { return i.name == ifname; }))
    throw sys::UsageError("node '" + node + "' of lab '" + lab + "' has no interface '" + ifname + "'");
  net::validate_netem(spec, "netem on '" + node + ":" + ifname + "'");
  const runtime::StateStore containers(paths.root);
  const RunningNode running = running_node(containers, n->container);
  const net::NlSock sock = net::open_rtnl_in(running.netns);
  net::set_netem(sock.get(), ifname, spec);
  labs.update(lab, [&](LabRecord& r) {
    if (spec.empty())
      r.netem.erase(node + ":" + ifname);
    else
      r.netem[node + ":" + ifname] = spec;
  });
}

std::vector<NodeStatus> lab_status(const LabPaths& paths, const LabRecord& record) {
  const runtime::StateStore containers(paths.root);
  std::map<std::string, runtime::ContainerRecord> by_name;
  for (auto& r : containers.list()) by_name.emplace(r.config.name, std::move(r));
  std::vector<NodeStatus> out;
  for (const auto& n : record.nodes) {
    NodeStatus s{n.name, n.container, "missing", 0, n.interfaces};
    if (const auto it = by_name.find(n.container); it != by_name.end()) {
      s.state = runtime::to_string(it->second.state.status);
      if (it->second.state.status == runtime::Status::running) s.pid = it->second.state.pid;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace nrun::lab
