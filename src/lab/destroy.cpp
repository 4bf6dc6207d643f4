// destroy_lab: undoes exactly what a lab's record lists, newest first.
#include <signal.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "lab/deploy.hpp"
#include "lab/node_access.hpp"
#include "net/error_list.hpp"
#include "net/hosts_batch.hpp"
#include "net/network.hpp"
#include "net/nft.hpp"
#include "net/rtnl.hpp"
#include "runtime/container.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::lab {

namespace {
void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// A record that cannot be read still names its lab, and what the lab made
// carries that name: its nodes' and networks' files are marked with it
// (ContainerSpec::lab, NetworkConfig::lab), and each node's namespace name
// is its container's name. Objects of a lab deployed by an nrun without the
// marks are found only through the .created lines that survived.
LabRecord recover_record(const LabPaths& paths, const LabStore& labs, const CorruptLab& e, const std::string& name) {
  LabRecord rec = labs.salvage(name, e.what());
  for (const auto& c : runtime::StateStore(paths.root).list())
    if (c.config.lab == name) add_unique(rec.containers, c.config.name);
  for (const auto& n : net::NetworkStore(paths.root).list())
    if (n.lab == name) add_unique(rec.networks, n.name);
  for (const auto& c : rec.containers)
    if (netns_name_exists(c, paths.netns_dir)) add_unique(rec.netns, c);
  log::warn(std::string(e.what()) + ": removing what the lab's marks name (" + std::to_string(rec.containers.size()) +
            " containers, " + std::to_string(rec.networks.size()) + " networks, " + std::to_string(rec.netns.size()) +
            " namespace names)");
  return rec;
}
}  // namespace

void destroy_lab(const LabPaths& paths, const std::string& name) {
  LabStore labs(paths.root);
  LabRecord rec;
  bool corrupt = false;
  try {
    rec = labs.get(name);
  } catch (const CorruptLab& e) {
    rec = recover_record(paths, labs, e, name);
    corrupt = true;
  }
  if (rec.deployer_pid > 0 && rec.deployer_pid != ::getpid() &&
      sys::process_matches(rec.deployer_pid, rec.deployer_start_time))
    throw sys::UsageError("lab '" + name + "' is being deployed by process " + std::to_string(rec.deployer_pid) +
                          ": wait for it, or stop it first");

  net::ErrorList errs;
  // The names first: a bind mount keeps a namespace alive after its node
  // is gone, and with it the node's veths.
  for (auto it = rec.netns.rbegin(); it != rec.netns.rend(); ++it)
    errs.capture("remove the namespace name '" + *it + "'", [&] { unbind_netns_if_exists(*it, paths.netns_dir); });

  // With the networks' hosts batched, no node rewrites the /etc/hosts of
  // the others on its way out: that would be O(N) files per node.
  net::NetworkStore store(paths.root);
  net::HostsBatch hosts(store, paths.root / "containers");
  for (const auto& n : rec.networks)
    if (store.try_get(n)) errs.capture("batch /etc/hosts of network '" + n + "'", [&] { hosts.add(n); });

  runtime::StateStore containers(paths.root);
  std::vector<std::pair<std::string, std::string>> nodes;  // name, id: of those that exist
  for (auto it = rec.containers.rbegin(); it != rec.containers.rend(); ++it)
    errs.capture("find container '" + *it + "'", [&] {
      if (const auto id = find_container(containers, *it)) nodes.emplace_back(*it, *id);  // else never made, or gone
    });
  // Every node is killed before the first is removed, so that their
  // monitors undo what they hold side by side instead of one after the
  // other; one that is not running any more is simply removed.
  for (const auto& [container, id] : nodes)
    try {
      runtime::kill_container(containers, id, SIGKILL);
    } catch (const std::exception& e) {
      log::debug("destroy lab '" + name + "': kill '" + container + "': " + sys::describe(e) + ", ignoring");
    }
  for (const auto& [container, id] : nodes)
    errs.capture("remove container '" + container + "'",
                 [&] { runtime::remove_container(containers, id, /*force=*/true); });

  if (!rec.networks.empty()) {
    errs.capture("remove the lab's networks", [&] {
      net::LibnlRtnl host;
      net::NftFirewall fw;
      net::NetEnv env{store, host, fw, paths.root / "containers"};
      for (auto it = rec.networks.rbegin(); it != rec.networks.rend(); ++it) {
        if (!store.try_get(*it)) continue;
        errs.capture("remove network '" + *it + "'", [&] {
          net::remove_network(env, *it, [&](const std::string& id) { return containers.try_load(id).has_value(); });
        });
      }
    });
  }

  // Only what is left (a network that could not go) is rewritten.
  errs.capture("update /etc/hosts on the lab's networks", [&] { hosts.end(); });

  if (errs.empty()) {
    labs.remove(name);
    return;
  }
  for (const auto& e : errs.errors()) log::debug("destroy lab '" + name + "': " + e);
  if (corrupt) {
    // What was recovered replaces the torn file, so the next try needs no
    // recovery, and what is gone by then is skipped as above.
    rec.status = LabStatus::failed;
    rec.error = "destroy: " + errs.str();
    labs.replace(rec);
  } else {
    labs.update(name, [&](LabRecord& r) {
      r.status = LabStatus::failed;
      r.error = "destroy: " + errs.str();
    });
  }
  throw sys::Error("destroy lab '" + name + "': " + errs.str());
}

}  // namespace nrun::lab
