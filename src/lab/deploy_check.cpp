// check_deployable: everything a deploy can find out before it creates the
// first object, so a lab that cannot come up leaves nothing behind.
#include <set>

#include "lab/deploy.hpp"
#include "net/network_store.hpp"
#include "net/rtnl.hpp"
#include "runtime/cgroup.hpp"
#include "runtime/image_store.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::lab {
using sys::UsageError;

namespace {
template <class F>
void in_context(const std::string& what, F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    throw UsageError(what + ": " + e.what());
  }
}
}  // namespace

void check_deployable(const LabPaths& paths, const LabPlan& plan) {
  const std::string lab = "lab '" + plan.lab + "'";
  runtime::ImageStore images(paths.root);
  std::set<std::string> checked_images;
  for (const auto& n : plan.nodes)
    if (checked_images.insert(n.spec.image).second)
      in_context(lab + ": node '" + n.name + "'", [&] { images.get(n.spec.image); });

  const runtime::StateStore containers(paths.root);
  const bool any_limits =
      std::any_of(plan.nodes.begin(), plan.nodes.end(), [](const PlannedNode& n) { return n.spec.resources.any(); });
  const std::vector<int> cpus = any_limits ? runtime::host_online_cpus() : std::vector<int>{};
  for (const auto& n : plan.nodes) {
    in_context(lab + ": node '" + n.name + "'", [&] {
      if (containers.try_find_by_name(n.container)) throw UsageError("container name '" + n.container + "' is already in use");
      runtime::validate(n.spec);
      if (n.spec.resources.any()) runtime::validate_resources(n.spec.resources, cpus);
      if (netns_name_exists(n.container, paths.netns_dir))
        throw UsageError("network namespace name '" + n.container + "' is taken (" +
                         (paths.netns_dir / n.container).string() + ")");
    });
  }

  if (plan.networks.empty()) return;
  net::NetworkStore store(paths.root);
  std::vector<net::NetworkConfig> existing = store.list();
  net::LibnlRtnl host;
  const auto routes = host.routed_subnets();
  const auto links = host.link_names();
  for (const auto& n : plan.networks)
    in_context(lab + ": network '" + n.lab_name + "'", [&] {
      // The same pure check `network create` makes, against the networks
      // and routes there are plus the lab's own networks planned so far.
      existing.push_back(net::plan_network(n.request, existing, routes, links, std::string(64, '0'), ""));
    });
}

}  // namespace nrun::lab
