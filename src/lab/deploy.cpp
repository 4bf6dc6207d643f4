// deploy_lab: runs a plan's steps in order, recording each object in the
// lab's file before it is created.
#include "lab/deploy.hpp"

#include <chrono>
#include <map>

#include "lab/netns_sysctl.hpp"
#include "lab/node_access.hpp"
#include "net/hosts_batch.hpp"
#include "net/netlink.hpp"
#include "net/network.hpp"
#include "net/nft.hpp"
#include "net/p2p_link.hpp"
#include "net/rtnl.hpp"
#include "runtime/container.hpp"
#include "runtime/exec.hpp"
#include "runtime/image_store.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::lab {
namespace fs = std::filesystem;

namespace {

class Deployer {
 public:
  Deployer(const LabPaths& paths, const LabPlan& plan)
      : paths_(paths),
        plan_(plan),
        labs_(paths.root),
        containers_(paths.root),
        images_(paths.root),
        networks_(paths.root),
        hosts_(networks_, paths.root / "containers") {}

  void run(const Step& s) {
    switch (s.kind) {
      case StepKind::create_network:
        return create_network(plan_.networks[s.index]);
      case StepKind::start_node:
        return start_node(plan_.nodes[s.index]);
      case StepKind::name_netns:
        return name_netns(plan_.nodes[s.index]);
      case StepKind::write_hosts:
        return hosts_.end();
      case StepKind::create_link:
        return create_link(plan_.links[s.index]);
      case StepKind::set_sysctls:
        return set_sysctls(plan_.nodes[s.index]);
      case StepKind::run_exec:
        return run_exec(plan_.nodes[s.index], s.command);
    }
  }

 private:
  void record(CreatedKind kind, const std::string& object) { labs_.add_created(plan_.lab, kind, object); }

  void create_network(const PlannedNetwork& n) {
    record(CreatedKind::network, n.request.name);
    // The sockets live only for this step: the monitors of the nodes
    // started later are forked from this process and keep what it holds.
    net::LibnlRtnl host;
    net::NftFirewall fw;
    net::NetEnv env{networks_, host, fw, paths_.root / "containers"};
    net::create_network(env, n.request);
    hosts_.add(n.request.name);  // until write_hosts, nodes starting on it leave their peers' files alone
  }

  void start_node(const PlannedNode& n) {
    record(CreatedKind::container, n.container);
    runtime::ContainerRecord rec;
    try {
      rec = containers_.create(n.spec);
    } catch (...) {
      // Not made (create leaves nothing behind): the name may belong to a
      // container someone started since check_deployable, which the
      // cleanup of this failed deploy must not remove.
      labs_.update(plan_.lab, [&](LabRecord& r) { std::erase(r.containers, n.container); });
      throw;
    }
    ids_[n.container] = rec.id;
    runtime::start_detached({containers_, images_}, rec.id, /*remove_on_failure=*/false);
  }

  // By the id this deploy created: listing every container per step would
  // make a deploy quadratic in its nodes.
  RunningNode running(const std::string& container) const {
    const auto it = ids_.find(container);
    return it == ids_.end() ? running_node(containers_, container)
                            : running_node_by_id(containers_, it->second, container);
  }

  void name_netns(const PlannedNode& n) {
    const RunningNode node = running(n.container);
    record(CreatedKind::netns, n.container);
    bind_netns(n.container, node.pid, paths_.netns_dir);
  }

  void create_link(const PlannedLink& l) {
    // Nothing to record: both ends live in the nodes' namespaces and go
    // with them.
    const RunningNode a = running(l.a.container);
    const RunningNode b = running(l.b.container);
    {
      const net::NlSock sock = net::open_rtnl_in(a.netns);
      net::create_p2p_veth(sock.get(), {l.a.ifname, l.a.mac}, {l.b.ifname, l.b.mac}, b.netns, l.mtu);
    }
    configure_end(a, l.a, l.netem);
    configure_end(b, l.b, l.netem);
  }

  static void configure_end(const RunningNode& node, const PlannedEnd& e, const net::NetemSpec& netem) {
    net::LibnlRtnl inside(net::open_rtnl_in(node.netns));
    if (e.address) inside.ensure_address(e.ifname, *e.address);
    inside.set_link_up(e.ifname);
    if (netem.empty()) return;
    const net::NlSock sock = net::open_rtnl_in(node.netns);
    net::set_netem(sock.get(), e.ifname, netem);
  }

  void set_sysctls(const PlannedNode& n) {
    const RunningNode node = running(n.container);
    write_sysctls_in(node.netns, n.sysctls);
  }

  void run_exec(const PlannedNode& n, size_t k) {
    const RunningNode node = running(n.container);
    runtime::ExecSpec spec;
    spec.command = n.exec[k];
    const int code = runtime::exec_in_container(containers_, node.id, spec);
    if (code != 0) throw sys::Error("the command exited with status " + std::to_string(code));
  }

  const LabPaths& paths_;
  const LabPlan& plan_;
  LabStore labs_;
  runtime::StateStore containers_;
  runtime::ImageStore images_;
  net::NetworkStore networks_;
  net::HostsBatch hosts_;  // on the lab's networks, from their creation to write_hosts
  std::map<std::string, std::string> ids_;  // container name -> id, of the nodes this deploy started
};

}  // namespace

void deploy_lab(const LabPaths& paths, const LabPlan& plan, const DeployOptions& opts) {
  LabStore labs(paths.root);
  bool exists = false;
  try {
    exists = labs.try_get(plan.lab).has_value();
  } catch (const CorruptLab& e) {
    if (!opts.reconfigure)
      throw sys::UsageError(std::string(e.what()) + ": 'nrun lab destroy " + plan.lab + "' removes what it made");
    exists = true;
  }
  if (exists) {
    if (!opts.reconfigure)
      throw sys::UsageError("lab '" + plan.lab +
                            "' is already deployed (destroy it first, or deploy with --reconfigure)");
    destroy_lab(paths, plan.lab);
  }
  check_deployable(paths, plan);

  LabRecord rec = describe_plan(plan);
  rec.file = opts.file.empty() ? "" : fs::absolute(opts.file).string();
  rec.topology = opts.text;
  rec.created = runtime::now_rfc3339();
  rec.deployer_pid = ::getpid();
  rec.deployer_start_time = sys::try_process_start_time(::getpid()).value_or(0);
  labs.create(rec);

  Deployer d(paths, plan);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (opts.progress) opts.progress(s.what);
    log::info("lab '" + plan.lab + "': " + s.what);
    try {
      const auto t0 = std::chrono::steady_clock::now();
      d.run(s);
      log::debug(
          "lab '" + plan.lab + "': " + s.what + " took " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()) +
          " us");
    } catch (const std::exception& e) {
      const std::string why = sys::describe(e);
      std::string undo = "everything it had created was removed";
      try {
        labs.update(plan.lab, [&](LabRecord& r) {
          r.status = LabStatus::failed;
          r.error = s.what + ": " + why;
          r.deployer_pid = 0;
        });
        destroy_lab(paths, plan.lab);
      } catch (const std::exception& d_err) {
        undo = "removing what it had created failed too (" + sys::describe(d_err) + "); 'nrun lab destroy " + plan.lab +
               "' tries again";
      }
      throw sys::Error("deploy of lab '" + plan.lab + "' failed at step " + std::to_string(i + 1) + "/" +
                       std::to_string(plan.steps.size()) + " (" + s.what + "): " + why + "; " + undo);
    }
  }
  labs.update(plan.lab, [](LabRecord& r) {
    r.status = LabStatus::deployed;
    r.deployer_pid = 0;
    r.deployer_start_time = 0;
  });
}

}  // namespace nrun::lab
