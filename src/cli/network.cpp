// nrun network create / ls / inspect / rm / connect / disconnect / prune,
// and nrun port.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "net/network.hpp"
#include "net/nft.hpp"
#include "runtime/networking.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::cli {
using namespace nrun::runtime;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Owns what a NetEnv refers to: the store, a netlink socket, an nft socket.
struct NetContext {
  net::NetworkStore store;
  net::LibnlRtnl host;
  net::NftFirewall fw;
  net::NetEnv env;
  explicit NetContext(const std::string& root)
      : store(root), env{store, host, fw, fs::path(root) / "containers"} {}
};

json network_json(const net::NetworkConfig& n) {
  json containers = json::object();
  for (const auto& [ip, l] : n.ipam.leases())
    containers[l.container] = {{"Name", l.name},
                               {"IPv4Address", ip.str() + "/" + std::to_string(n.subnet.prefix)},
                               {"MacAddress", l.mac},
                               {"Aliases", l.aliases},
                               {"Interface", l.ifname}};
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Driver", "bridge"},
          {"Bridge", n.bridge},
          {"Subnet", n.subnet.str()},
          {"Gateway", n.gateway.str()},
          {"Internal", n.internal},
          {"MTU", n.mtu},
          {"IPAM", {{"Driver", "default"}, {"Config", json::array({{{"Subnet", n.subnet.str()}, {"Gateway", n.gateway.str()}}})}}},
          {"Containers", containers}};
}

// The default network is listed (and inspectable) before its first use:
// its file is made on demand; its bridge only when a container joins.
net::NetworkConfig get_network(NetContext& ctx, const std::string& name) {
  if (name == net::kDefaultNetwork) return net::ensure_default_network(ctx.env);
  return ctx.store.get(name);
}

bool container_exists(const std::string& root, const std::string& id) {
  return StateStore(root).try_load(id).has_value();
}

void add_create(CLI::App& network, Globals& g) {
  struct Opts {
    std::string name, subnet, gateway, driver = "bridge";
    bool internal = false;
    unsigned mtu = net::kDefaultMtu;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = network.add_subcommand("create", "Create a bridge network");
  cmd->add_option("--subnet", o->subnet, "Subnet in CIDR notation (default: a free 10.89.x.0/24)");
  cmd->add_option("--gateway", o->gateway, "Gateway address on the bridge (default: the subnet's first address)");
  cmd->add_flag("--internal", o->internal, "No masquerade and no route out of the network");
  cmd->add_option("--mtu", o->mtu, "MTU of the bridge and the containers' interfaces")->capture_default_str();
  cmd->add_option("-d,--driver", o->driver, "Network driver (only bridge)")->capture_default_str();
  cmd->add_option("NAME", o->name, "Network name, also the bridge's name (at most 15 characters)")->required();
  cmd->footer(
      "\nExamples:\n"
      "  nrun network create lab0\n"
      "  nrun network create --subnet 10.20.0.0/24 --gateway 10.20.0.254 lab1\n"
      "  nrun network create --internal backend\n");
  cmd->callback([&g, o] {
    if (o->driver != "bridge") throw sys::UsageError("unsupported network driver '" + o->driver + "' (bridge)");
    net::NewNetwork req;
    req.name = o->name;
    net::check_new_network_name(req.name);
    if (!o->subnet.empty()) req.subnet = net::parse_cidr(o->subnet, true, "--subnet");
    if (!o->gateway.empty()) {
      if (o->subnet.empty()) throw sys::UsageError("--gateway needs --subnet");
      req.gateway = net::parse_ipv4(o->gateway, "--gateway");
    }
    req.internal = o->internal;
    req.mtu = o->mtu;
    NetContext ctx(g.root);
    std::cout << net::create_network(ctx.env, req).id << "\n";
  });
}

void add_ls(CLI::App& network, Globals& g) {
  auto quiet = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>("table");
  auto* cmd = network.add_subcommand("ls", "List networks");
  cmd->alias("list");
  cmd->add_flag("-q,--quiet", *quiet, "Only print names");
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&g, quiet, format] {
    NetContext ctx(g.root);
    net::ensure_default_network(ctx.env);
    const auto all = ctx.store.list();
    if (*quiet) {
      for (const auto& n : all) std::cout << n.name << "\n";
      return;
    }
    if (*format == "json") {
      json out = json::array();
      for (const auto& n : all) out.push_back(network_json(n));
      std::cout << out.dump(2) << "\n";
      return;
    }
    Table t({"NETWORK ID", "NAME", "DRIVER", "BRIDGE", "SUBNET", "GATEWAY", "CONTAINERS"});
    for (const auto& n : all)
      t.add({n.short_id(), n.name, n.internal ? "bridge (internal)" : "bridge", n.bridge, n.subnet.str(),
             n.gateway.str(), std::to_string(n.ipam.leases().size())});
    t.print(std::cout);
  });
}

void add_inspect(CLI::App& network, Globals& g) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = network.add_subcommand("inspect", "Show networks as JSON: bridge, subnet, gateway, containers");
  cmd->add_option("NETWORK", *names, "Network name")->required();
  cmd->callback([&g, names] {
    NetContext ctx(g.root);
    json out = json::array();
    for (const auto& n : *names) out.push_back(network_json(get_network(ctx, n)));
    std::cout << out.dump(2) << "\n";
  });
}

void add_rm(CLI::App& network, Globals& g) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = network.add_subcommand("rm", "Remove networks (refused while containers are attached)");
  cmd->alias("remove");
  cmd->add_option("NETWORK", *names, "Network name")->required();
  cmd->callback([&g, names] {
    NetContext ctx(g.root);
    for (const auto& n : *names) {
      net::remove_network(ctx.env, n, [&](const std::string& id) { return container_exists(g.root, id); });
      std::cout << n << "\n";
    }
  });
}

void add_prune(CLI::App& network, Globals& g) {
  auto force = std::make_shared<bool>(false);
  auto* cmd = network.add_subcommand("prune", "Remove every user network no container is attached to");
  cmd->add_flag("-f,--force", *force, "Do not ask (nrun never asks; accepted for Docker's scripts)");
  cmd->callback([&g] {
    NetContext ctx(g.root);
    for (const auto& n : ctx.store.list()) {
      if (n.is_default()) continue;
      try {
        net::remove_network(ctx.env, n.name, [&](const std::string& id) { return container_exists(g.root, id); });
        std::cout << n.name << "\n";
      } catch (const sys::UsageError&) {
        // in use: kept
      }
    }
  });
}

void require_network_mode(const ContainerRecord& rec) {
  if (!uses_networks(rec.config))
    throw sys::UsageError("container '" + rec.config.name + "' uses --net " + rec.config.net +
                          ": it cannot join or leave networks");
}

// Runs `fn` with the container's network namespace, verified to belong to
// its init; false when the container is not running.
template <class F>
bool with_running_netns(const ContainerRecord& rec, F&& fn) {
  if (!is_alive(rec.state)) return false;
  sys::Fd netns = net::open_netns_of(rec.state.pid);
  // Checked after opening: the fd cannot name a reused pid's namespace.
  if (!sys::process_matches(rec.state.pid, rec.state.start_time)) return false;
  fn(netns);
  return true;
}

void add_connect(CLI::App& network, Globals& g) {
  struct Opts {
    std::string network, container, ip;
    std::vector<std::string> aliases;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = network.add_subcommand("connect", "Connect a container to a network (eth1, eth2, ...)");
  cmd->add_option("--ip", o->ip, "IPv4 address in the network");
  cmd->add_option("--alias", o->aliases, "Another name for the container in this network")->allow_extra_args(false);
  cmd->add_option("NETWORK", o->network, "Network name")->required();
  cmd->add_option("CONTAINER", o->container, "Name, id or unique id prefix")->required();
  cmd->footer("\nExample:\n  nrun network connect --ip 10.20.0.9 lab0 web\n");
  cmd->callback([&g, o] {
    StateStore store(g.root);
    const ContainerRecord rec = store.load(store.resolve(o->container));
    require_network_mode(rec);
    const net::NetworkAttachment a{o->network, o->ip, "", o->aliases};
    net::validate_network_options("bridge", {a}, {}, {});
    NetContext ctx(g.root);
    if (o->network != net::kDefaultNetwork) {
      const auto n = ctx.store.get(o->network);
      if (!o->ip.empty()) n.ipam.check_static(net::parse_ipv4(o->ip), n.name);
    }
    for (const auto& x : attachments_of(rec.config))
      if (x.network == o->network)
        throw sys::UsageError("container '" + rec.config.name + "' is already connected to network '" + o->network + "'");
    with_running_netns(rec, [&](const sys::Fd& netns) {
      net::NetState st;
      if (rec.state.network.is_object()) st = rec.state.network.get<net::NetState>();
      // Intent first: the endpoint is in the record before its lease and
      // veth exist, so `disconnect`, `rm -f` or `gc` undo a connect killed
      // at any point. Not fsync'd, as every running state (see launch).
      const auto record = [&](const net::NetState& x) {
        store.update(rec.id, [&](ContainerState& s) { s.network = x; }, sys::Durability::none);
      };
      net::connect_container(ctx.env, net_info(rec), st, a, netns, record);
      record(st);
    });
    // Kept in the configuration: the next start joins it again.
    store.update_config(rec.id, [&](ContainerSpec& spec, const ContainerState&) {
      spec.networks = attachments_of(spec);
      spec.networks.push_back(a);
    });
  });
}

void add_disconnect(CLI::App& network, Globals& g) {
  auto net_name = std::make_shared<std::string>(), ref = std::make_shared<std::string>();
  auto* cmd = network.add_subcommand("disconnect", "Disconnect a container from a network");
  cmd->add_option("NETWORK", *net_name, "Network name")->required();
  cmd->add_option("CONTAINER", *ref, "Name, id or unique id prefix")->required();
  cmd->callback([&g, net_name, ref] {
    StateStore store(g.root);
    const ContainerRecord rec = store.load(store.resolve(*ref));
    require_network_mode(rec);
    const auto attached = attachments_of(rec.config);
    net::NetState st;
    if (is_alive(rec.state) && rec.state.network.is_object()) st = rec.state.network.get<net::NetState>();
    // Connected in the configuration, or only in the state: a connect
    // killed after it recorded its intent, before it updated the config.
    const bool in_config =
        std::any_of(attached.begin(), attached.end(), [&](const auto& a) { return a.network == *net_name; });
    const bool in_state =
        std::any_of(st.endpoints.begin(), st.endpoints.end(), [&](const auto& e) { return e.network == *net_name; });
    if (!in_config && !in_state)
      throw sys::UsageError("container '" + rec.config.name + "' is not connected to network '" + *net_name + "'");
    NetContext ctx(g.root);
    with_running_netns(rec, [&](const sys::Fd&) {
      net::disconnect_container(ctx.env, net_info(rec), st, *net_name);
      store.update(rec.id, [&](ContainerState& s) { s.network = st; });
    });
    if (!in_config) return;
    store.update_config(rec.id, [&](ContainerSpec& spec, const ContainerState&) {
      auto nets = attachments_of(spec);
      nets.erase(std::remove_if(nets.begin(), nets.end(), [&](const auto& a) { return a.network == *net_name; }),
                 nets.end());
      spec.networks = nets;
      spec.net = nets.empty() ? "none" : nets[0].network;
    });
  });
}

void add_port(CLI::App& app, Globals& g) {
  auto ref = std::make_shared<std::string>(), filter = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("port", "List a container's published ports");
  cmd->add_option("CONTAINER", *ref, "Name, id or unique id prefix")->required();
  cmd->add_option("PORT", *filter, "Only this container port, PORT[/PROTO]");
  cmd->footer("\nExample:\n  nrun port web\n  nrun port web 80/tcp\n");
  cmd->callback([&g, ref, filter] {
    StateStore store(g.root);
    const ContainerRecord rec = store.load(store.resolve(*ref));
    net::NetState st;
    if (is_alive(rec.state) && rec.state.network.is_object()) st = rec.state.network.get<net::NetState>();
    std::string want = *filter;
    if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
    bool any = false;
    for (const auto& f : st.ports) {
      const std::string cport = std::to_string(f.container_port) + "/" + f.proto;
      if (!want.empty() && cport != want) continue;
      any = true;
      const std::string host = (f.host_ip ? f.host_ip->str() : "0.0.0.0") + ":" + std::to_string(f.host_port);
      std::cout << (want.empty() ? cport + " -> " : "") << host << "\n";
    }
    if (!want.empty() && !any)
      throw sys::UsageError("no public port '" + want + "' published for '" + rec.config.name + "'");
  });
}

}  // namespace

void add_network_commands(CLI::App& app, Globals& g) {
  auto* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);
  network->footer("\nRun 'nrun network COMMAND --help' for more information on a command.\n");
  add_create(*network, g);
  add_ls(*network, g);
  add_inspect(*network, g);
  add_rm(*network, g);
  add_connect(*network, g);
  add_disconnect(*network, g);
  add_prune(*network, g);
  add_port(app, g);
}

}  // namespace nrun::cli
