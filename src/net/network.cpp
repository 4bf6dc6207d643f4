#include "net/network.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "net/files.hpp"
#include "net/hosts_batch.hpp"
#include "net/ports.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::net {
namespace fs = std::filesystem;
using nlohmann::json;
using sys::UsageError;

// ------------------------------------------------------------------- JSON

void to_json(json& j, const Forward& f) {
  j = {{"proto", f.proto},
       {"host_ip", f.host_ip ? f.host_ip->str() : ""},
       {"host_port", f.host_port},
       {"container_ip", f.container_ip.str()},
       {"container_port", f.container_port}};
}

void from_json(const json& j, Forward& f) {
  f.proto = j.value("proto", "tcp");
  const std::string hip = j.value("host_ip", "");
  f.host_ip = hip.empty() ? std::nullopt : std::optional<Ipv4>(parse_ipv4(hip));
  f.host_port = j.value("host_port", uint16_t{0});
  f.container_ip = parse_ipv4(j.value("container_ip", "0.0.0.0"));
  f.container_port = j.value("container_port", uint16_t{0});
}

void to_json(json& j, const Endpoint& e) {
  j = {{"network", e.network}, {"network_id", e.network_id}, {"bridge", e.bridge},
       {"host_if", e.host_if}, {"ifname", e.ifname},         {"ip", e.ip.str()},
       {"prefix", e.prefix},   {"gateway", e.gateway.str()}, {"mac", e.mac},
       {"aliases", e.aliases}, {"default_route", e.default_route}, {"internal", e.internal}};
}

void from_json(const json& j, Endpoint& e) {
  j.at("network").get_to(e.network);
  e.network_id = j.value("network_id", "");
  e.bridge = j.value("bridge", "");
  e.host_if = j.value("host_if", "");
  e.ifname = j.value("ifname", "");
  e.ip = parse_ipv4(j.value("ip", "0.0.0.0"));
  e.prefix = j.value("prefix", 0);
  e.gateway = parse_ipv4(j.value("gateway", "0.0.0.0"));
  e.mac = j.value("mac", "");
  e.aliases = j.value("aliases", std::vector<std::string>{});
  e.default_route = j.value("default_route", false);
  e.internal = j.value("internal", false);
}

void to_json(json& j, const NetState& s) {
  j = {{"endpoints", s.endpoints}, {"ports", s.ports}};
}

void from_json(const json& j, NetState& s) {
  s.endpoints = j.value("endpoints", std::vector<Endpoint>{});
  s.ports = j.value("ports", std::vector<Forward>{});
}

// ---------------------------------------------------------------- helpers

std::string veth_prefix(const std::string& container_id) { return "nr" + container_id.substr(0, 12); }

std::string veth_name(const std::string& container_id, size_t index) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  return veth_prefix(container_id) + kDigits[index % 36];
}

std::vector<std::pair<fs::path, std::string>> container_files(const fs::path& container_dir) {
  return {{container_dir / kHostsFile, "/etc/hosts"}, {container_dir / kResolvFile, "/etc/resolv.conf"}};
}

namespace {
std::string short_id(const std::string& id) { return id.substr(0, 12); }

// Debug timing of the steps of an attach or detach.
class StepTimer {
 public:
  explicit StepTimer(std::string what) : what_(std::move(what)), last_(std::chrono::steady_clock::now()) {}
  void step(const char* name) {
    if (!log::enabled(log::Level::debug)) return;
    const auto now = std::chrono::steady_clock::now();
    log::debug(what_ + ": " + name + " took " +
               std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now - last_).count()) + " us");
    last_ = now;
  }

 private:
  std::string what_;
  std::chrono::steady_clock::time_point last_;
};

FwNetwork fw_of(const NetworkConfig& n) { return {n.short_id(), n.bridge, n.subnet, n.internal}; }

void ensure_ip_forward(NetEnv& env, const std::string& network) {
  const std::string path = (env.proc_sys / "net/ipv4/ip_forward").string();
  try {
    const std::string v = sys::read_file(path);
    if (!v.empty() && v[0] == '1') return;
    sys::write_file(path, "1");
  } catch (const sys::SysError& e) {
    // Containers of one bridge still reach each other; say what will not work.
    log::warn("cannot enable IPv4 forwarding for network '" + network + "' (" + e.what() +
              "): traffic out of the network and published ports will not work, ignoring");
    return;
  }
  log::info("enabled IPv4 forwarding (" + path + " = 1) for network '" + network + "'");
}

// The bridge, its gateway address, the firewall chains: idempotent.
void ensure_kernel_objects(NetEnv& env, const NetworkConfig& n) {
  env.host.ensure_bridge(n.bridge, n.mtu, mac_for(n.gateway));
  env.host.ensure_address(n.bridge, Cidr{n.gateway, n.subnet.prefix});
  env.fw.ensure_network(fw_of(n));
  if (!n.internal) ensure_ip_forward(env, n.name);
}

NetworkConfig create_default_locked(NetEnv& env) {
  NewNetwork req;
  req.name = kDefaultNetwork;
  NetworkConfig n = plan_network(req, env.store.list(), env.host.routed_subnets(), env.host.link_names(),
                                 random_hex_id(), now_rfc3339());
  env.store.save(n);
  log::info("created the default network '" + n.name + "' (bridge '" + n.bridge + "', " + n.subnet.str() + ")");
  return n;
}

// The configuration and the taken addresses, not the leases (see
// NetworkStore::try_get_addresses).
NetworkConfig load_for_attach(NetEnv& env, const std::string& name, std::optional<Ipv4> want) {
  if (auto n = env.store.try_get_addresses(name, want)) return *n;
  if (name == kDefaultNetwork) return create_default_locked(env);
  throw UsageError("no such network: '" + name + "'");
}

bool has_default_route(const NetState& st) {
  return std::any_of(st.endpoints.begin(), st.endpoints.end(), [](const Endpoint& e) { return e.default_route; });
}

size_t ifname_index(const std::string& ifname) {
  try {
    return ifname.rfind("eth", 0) == 0 ? std::stoul(ifname.substr(3)) : 0;
  } catch (...) {
    return 0;
  }
}

size_t next_index(const NetState& st) {
  for (size_t i = 0;; ++i)
    if (std::none_of(st.endpoints.begin(), st.endpoints.end(),
                     [&](const Endpoint& e) { return ifname_index(e.ifname) == i; }))
      return i;
}

// /etc/hosts of container `id` from every network's leases: its own first
// address and names, then its peers on the user networks it shares.
std::string hosts_for(const std::vector<NetworkConfig>& all, const std::string& id) {
  struct Own {
    size_t index;
    Ipv4 ip;
    const Lease* lease;
  };
  std::vector<Own> own;
  for (const auto& n : all)
    for (const auto& [ip, l] : n.ipam.leases())
      if (l.container == id) own.push_back({ifname_index(l.ifname), ip, &l});
  std::sort(own.begin(), own.end(), [](const Own& a, const Own& b) { return a.index < b.index; });
  HostsEntry self;
  if (!own.empty()) {
    self.ip = own[0].ip.str();
    self.names = {own[0].lease->hostname, own[0].lease->name};
    for (const auto& o : own)
      for (const auto& a : o.lease->aliases) self.names.push_back(a);
  }
  std::vector<HostsEntry> peers;
  for (const auto& n : all) {
    if (n.is_default() || !n.ipam.address_of(id)) continue;  // the default network has no name resolution
    for (const auto& [ip, l] : n.ipam.leases()) {
      if (l.container == id) continue;
      HostsEntry e{ip.str(), {l.name}};
      for (const auto& a : l.aliases) e.names.push_back(a);
      peers.push_back(std::move(e));
    }
  }
  return render_hosts(self, peers);
}

void write_hosts(const fs::path& containers_dir, const std::vector<NetworkConfig>& all, const std::string& id,
                 bool create) {
  const fs::path path = containers_dir / id / kHostsFile;
  if (!create && !fs::exists(path.parent_path())) return;
  write_in_place(path.string(), hosts_for(all, id), create);
}

// Rewrites the hosts files of everyone on the user networks `id` is or was on,
// but not on networks whose hosts are batched (hosts_batch.hpp): the batch's
// end rewrites all of them once.
void refresh_peers(NetEnv& env, const std::vector<NetworkConfig>& all, const std::vector<std::string>& networks,
                   const std::string& except, ErrorList& errs) {
  std::set<std::string> peers;
  for (const auto& n : all) {
    if (n.is_default() || std::find(networks.begin(), networks.end(), n.name) == networks.end()) continue;
    if (hosts_batched(env.store, n.name)) continue;
    for (const auto& [ip, l] : n.ipam.leases())
      if (l.container != except) peers.insert(l.container);
  }
  for (const auto& p : peers)
    errs.capture("update /etc/hosts of " + short_id(p), [&] { write_hosts(env.containers_dir, all, p, false); });
}

// `joined`: the networks of the container with its leases, when they are
// all of them (attach); otherwise they are read from the store.
void write_files(NetEnv& env, const ContainerNetInfo& c, const NetState& st,
                 const std::vector<NetworkConfig>* joined = nullptr) {
  const fs::path dir = env.containers_dir / c.id;
  std::string host_resolv;
  for (const auto& path : {env.host_resolv_conf, env.upstream_resolv_conf}) {
    try {
      host_resolv = sys::read_file(path.string());
    } catch (const sys::SysError&) {
      continue;
    }
    if (has_usable_nameserver(host_resolv)) break;
  }
  write_in_place((dir / kResolvFile).string(), render_resolv_conf(host_resolv, c.dns), true);
  // Only user networks have peers to tell; the default network's
  // containers do not resolve each other (as Docker's), and a batched
  // network's are told at the batch's end. Then the networks joined are all
  // the container's own file needs, and a start reads or writes nothing per
  // container already there.
  const bool peers = std::any_of(st.endpoints.begin(), st.endpoints.end(), [&](const Endpoint& e) {
    return e.network != kDefaultNetwork && !hosts_batched(env.store, e.network);
  });
  if (!peers && joined) {
    write_hosts(env.containers_dir, *joined, c.id, true);
    return;
  }
  const auto all = env.store.list();
  write_hosts(env.containers_dir, all, c.id, true);
  std::vector<std::string> nets;
  for (const auto& e : st.endpoints) nets.push_back(e.network);
  ErrorList errs;  // a peer's file is a convenience: never fail the start for it
  refresh_peers(env, all, nets, c.id, errs);
  for (const auto& e : errs.errors()) log::warn(e + ", ignoring");
}

// One network: lease, veth, address, default route. The endpoint is
// recorded in `st` before the veth is made, so undo covers it.
//
// `record`, when given, is told `st` with the new endpoint before its lease
// exists (intent first): a caller killed at any later point has recorded
// what to undo, and every undo step is a no-op for what was not made.
Endpoint& attach_one(NetEnv& env, const ContainerNetInfo& c, NetState& st, const NetworkAttachment& a, size_t index,
                     const sys::Fd& netns, Rtnl& inside, bool routed, std::vector<NetworkConfig>* joined = nullptr,
                     const RecordState* record = nullptr) {
  StepTimer t("attach " + short_id(c.id) + " to '" + a.network + "'");
  const std::optional<Ipv4> want = a.ip.empty() ? std::nullopt : std::optional<Ipv4>(parse_ipv4(a.ip, "--ip"));
  NetworkConfig n = load_for_attach(env, a.network, want);
  t.step("load network");
  env.host.ensure_bridge(n.bridge, n.mtu, mac_for(n.gateway));
  env.host.ensure_address(n.bridge, Cidr{n.gateway, n.subnet.prefix});
  t.step("ensure bridge");
  env.fw.ensure_network(fw_of(n));
  t.step("ensure firewall");
  if (!n.internal) ensure_ip_forward(env, n.name);
  const std::string ifname = "eth" + std::to_string(index);
  Lease lease{c.id, c.name, c.hostname, a.aliases, ifname, ""};
  const Ipv4 ip = n.ipam.allocate(lease, want, n.name);
  const Mac mac = a.mac.empty() ? mac_for(ip) : parse_mac(a.mac);
  lease.mac = mac.str();
  st.endpoints.push_back(Endpoint{n.name, n.id, n.bridge, veth_name(c.id, index), ifname, ip, n.subnet.prefix,
                                  n.gateway, mac.str(), a.aliases, false, n.internal});
  Endpoint& ep = st.endpoints.back();
  if (record) (*record)(st);
  env.store.add_lease(n, ip, lease);
  if (joined) {
    // The others' leases were not read: the container's own file needs
    // only its own (its peers are told otherwise, see write_files).
    NetworkConfig own = n;
    own.ipam.leases() = {{ip, lease}};
    joined->push_back(std::move(own));
  }
  t.step("allocate address");
  // A pair of this container's previous run may still be waiting for its
  // namespace's cleanup (a quick restart): its name is ours, take it back.
  // When there is none, this is one ENODEV round trip.
  env.host.delete_link_if_exists(ep.host_if);
  env.host.create_veth(VethSpec{ep.host_if, ifname, &netns, n.bridge, n.mtu, mac});
  t.step("create veth");
  inside.ensure_address(ifname, Cidr{ip, n.subnet.prefix});
  inside.set_link_up(ifname);
  if (!n.internal && !routed) {
    inside.add_default_route(n.gateway, ifname);
    ep.default_route = true;
  }
  t.step("configure the container side");
  log::debug("attached " + short_id(c.id) + " to '" + n.name + "' as " + ip.str() + " (" + ep.host_if + ")");
  return ep;
}

std::vector<Forward> publish(NetEnv& env, const ContainerNetInfo& c, const NetState& st) {
  const auto target = std::find_if(st.endpoints.begin(), st.endpoints.end(), [](const Endpoint& e) { return !e.internal; });
  if (target == st.endpoints.end())
    throw UsageError("cannot publish ports: the container is only on --internal networks");
  const auto listeners = host_listeners(env.proc_net.string());
  std::optional<std::vector<Forward>> existing;  // dumped only when a port must be picked
  std::vector<Forward> out;
  for (const auto& p : c.ports) {
    Forward f;
    f.proto = p.proto;
    if (!p.host_ip.empty()) f.host_ip = parse_ipv4(p.host_ip, "host address");
    f.container_ip = target->ip;
    f.container_port = p.container_port;
    f.owner = c.id;
    if (p.host_port && p.host_port_end <= p.host_port) {
      if (port_taken_by(listeners, f.proto, p.host_port, f.host_ip))
        throw PortInUseError("host port " + std::to_string(p.host_port) + "/" + f.proto +
                             " is in use by a process on the host");
      f.host_port = p.host_port;
    } else {
      if (!existing) existing = env.fw.list_forwards();
      std::vector<Forward> taken = *existing;
      taken.insert(taken.end(), out.begin(), out.end());
      const PortRange eph = ephemeral_port_range(env.proc_sys.string());
      const uint16_t first = p.host_port ? p.host_port : eph.first;
      const uint16_t last = p.host_port ? p.host_port_end : eph.last;
      const auto picked = pick_free_port(first, last, f.proto, f.host_ip, listeners, taken);
      if (!picked)
        throw PortInUseError("no free host port in " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                             f.proto + " for container port " + std::to_string(p.container_port));
      f.host_port = *picked;
    }
    out.push_back(f);
  }
  env.fw.add_forwards(out);
  return out;
}

// Releases `id`'s leases on the networks of `eps`, at the addresses they
// record (every lease of those networks read, when `by_id`; every network,
// every lease read, when `eps` is null: the state was lost) and refreshes
// the peers on user networks. Returns how many were released.
size_t release_leases(NetEnv& env, const std::string& id, const std::vector<Endpoint>* eps, ErrorList& errs,
                      bool by_id = false) {
  std::vector<std::pair<std::string, std::vector<Ipv4>>> where;
  if (!eps) {
    for (const auto& n : env.store.list()) where.push_back({n.name, {}});
  } else {
    for (const auto& e : *eps) {
      auto it = std::find_if(where.begin(), where.end(), [&](const auto& w) { return w.first == e.network; });
      if (it == where.end()) it = where.insert(where.end(), {e.network, {}});
      if (!by_id) it->second.push_back(e.ip);
    }
  }
  std::vector<std::string> touched;
  size_t released = 0;
  bool peers = false;
  for (const auto& [network, ips] : where) {
    const size_t n = env.store.release(network, id, ips).size();
    if (n == 0) continue;
    released += n;
    touched.push_back(network);
    // A batched network's peers are told at the batch's end: no need to
    // read every network for them.
    peers |= network != kDefaultNetwork && !hosts_batched(env.store, network);
  }
  if (peers) refresh_peers(env, env.store.list(), touched, id, errs);
  return released;
}

void detach_locked(NetEnv& env, const std::string& id, const std::optional<NetState>& st, ErrorList& errs,
                   bool netns_alive = true) noexcept {
  const std::string sid = short_id(id);
  StepTimer t("detach " + sid);
  if (!st || !st->ports.empty())
    errs.capture("unpublish the ports of " + sid, [&] { env.fw.remove_forwards_of(id); });
  t.step("unpublish ports");
  if (!netns_alive) {
    // The pairs die with the namespace (see network.hpp).
  } else if (st) {
    for (auto it = st->endpoints.rbegin(); it != st->endpoints.rend(); ++it)
      errs.capture("delete veth '" + it->host_if + "'", [&] { env.host.delete_link_if_exists(it->host_if); });
  } else {
    errs.capture("delete the veths of " + sid, [&] {
      const std::string prefix = veth_prefix(id);
      for (const auto& name : env.host.link_names())
        if (name.size() == prefix.size() + 1 && name.compare(0, prefix.size(), prefix) == 0)
          env.host.delete_link_if_exists(name);
    });
  }
  t.step("delete veths");
  errs.capture("release the addresses of " + sid, [&] {
    // Every network the state names; all of them when it was lost. A state
    // with endpoints on every network is exact: leases are made only by
    // attach, which records each endpoint before anything else can fail.
    if (st && st->endpoints.empty()) return;
    release_leases(env, id, st ? &st->endpoints : nullptr, errs);
  });
  t.step("release addresses");
}
}  // namespace

// ------------------------------------------------------------- containers

NetState attach_container(NetEnv& env, const ContainerNetInfo& c, const sys::Fd& netns) {
  StepTimer t("attach " + short_id(c.id));
  auto lock = env.store.lock();
  t.step("lock");
  NetState st;
  sys::ScopeGuard undo([&] {
    ErrorList errs;
    detach_locked(env, c.id, st, errs);
    for (const auto& e : errs.errors()) log::warn("undo network setup: " + e + ", ignoring");
  });
  const auto inside = env.host.open_in(netns);
  t.step("open a netlink socket in the container");
  std::vector<NetworkConfig> joined;
  for (size_t i = 0; i < c.networks.size(); ++i)
    attach_one(env, c, st, c.networks[i], i, netns, *inside, has_default_route(st), &joined);
  if (!c.ports.empty()) st.ports = publish(env, c, st);
  t.step("publish ports");
  write_files(env, c, st, &joined);
  t.step("write hosts and resolv.conf");
  undo.dismiss();
  return st;
}

void detach_container(NetEnv& env, const std::string& id, const std::optional<NetState>& state, ErrorList& errs,
                      bool netns_alive) noexcept {
  std::optional<sys::FileLock> lock;
  errs.capture("lock the networks", [&] { lock.emplace(env.store.lock()); });
  if (!lock) return;
  detach_locked(env, id, state, errs, netns_alive);
}

Endpoint connect_container(NetEnv& env, const ContainerNetInfo& c, NetState& st, const NetworkAttachment& a,
                           const sys::Fd& netns, const RecordState& record) {
  validate_network_options("bridge", {a}, {}, {});
  auto lock = env.store.lock();
  for (const auto& e : st.endpoints)
    if (e.network == a.network)
      throw UsageError("container '" + c.name + "' is already connected to network '" + a.network + "'");
  const size_t index = next_index(st);
  if (index >= kMaxNetworksPerContainer) throw UsageError("container '" + c.name + "' has too many networks");
  const auto inside = env.host.open_in(netns);
  NetState added;  // what this call made, for undo
  // The whole state with the endpoint being made: the caller's record.
  const RecordState record_all = [&](const NetState& with) {
    if (!record) return;
    NetState all = st;
    all.endpoints.insert(all.endpoints.end(), with.endpoints.begin(), with.endpoints.end());
    record(all);
  };
  sys::ScopeGuard undo([&] {
    ErrorList errs;
    for (const auto& e : added.endpoints) {
      errs.capture("delete veth", [&] { env.host.delete_link_if_exists(e.host_if); });
      errs.capture("release address", [&] {
        const std::vector<Endpoint> one{e};
        release_leases(env, c.id, &one, errs);
      });
    }
    // Undone: the record drops the endpoint again. Kept when a step
    // failed, so that disconnect or rm can retry it.
    if (errs.empty() && !added.endpoints.empty() && record)
      errs.capture("record the undo", [&] { record(st); });
    for (const auto& e : errs.errors()) log::warn("undo network connect: " + e + ", ignoring");
  });
  const Endpoint ep = attach_one(env, c, added, a, index, netns, *inside, has_default_route(st), nullptr,
                                 record ? &record_all : nullptr);
  st.endpoints.push_back(ep);
  write_files(env, c, st);
  undo.dismiss();
  return ep;
}

bool disconnect_container(NetEnv& env, const ContainerNetInfo& c, NetState& st, const std::string& network) {
  auto lock = env.store.lock();
  const auto it = std::find_if(st.endpoints.begin(), st.endpoints.end(), [&](const Endpoint& e) { return e.network == network; });
  std::vector<Endpoint> eps;
  if (it != st.endpoints.end()) {
    eps.push_back(*it);
    // Deleting the host end deletes the pair; the container loses ethN.
    env.host.delete_link_if_exists(eps[0].host_if);
    st.endpoints.erase(it);
  }
  // Without an endpoint recorded, whatever lease of the network carries
  // the container's id (an older nrun's connect killed mid-way): every
  // lease of that network is read.
  Endpoint any;
  any.network = network;
  const std::vector<Endpoint> scan{any};
  ErrorList errs;
  const size_t released = release_leases(env, c.id, eps.empty() ? &scan : &eps, errs, /*by_id=*/eps.empty());
  if (eps.empty() && released == 0) return false;
  errs.capture("update /etc/hosts", [&] { write_hosts(env.containers_dir, env.store.list(), c.id, false); });
  for (const auto& e : errs.errors()) log::warn(e + ", ignoring");
  return true;
}

void check_container_options(NetEnv& env, const ContainerNetInfo& c) {
  bool routable = false;
  for (const auto& a : c.networks) {
    if (a.network == kDefaultNetwork) {
      if (!a.ip.empty())
        throw UsageError("--ip needs a user-defined network: the default network's addresses are assigned by nrun");
      routable = true;
      continue;
    }
    const std::optional<Ipv4> want = a.ip.empty() ? std::nullopt : std::optional<Ipv4>(parse_ipv4(a.ip, "--ip"));
    const auto n = env.store.try_get_addresses(a.network, want);
    if (!n) throw UsageError("no such network: '" + a.network + "'");
    if (!n->internal) routable = true;
    if (want) n->ipam.check_static(*want, n->name);
  }
  if (c.ports.empty()) return;
  if (!routable) throw UsageError("cannot publish ports: the container is only on --internal networks");
  const auto listeners = host_listeners(env.proc_net.string());
  std::optional<std::vector<Forward>> published;
  for (const auto& p : c.ports) {
    if (!p.host_port || p.host_port_end > p.host_port) continue;
    const std::optional<Ipv4> ip = p.host_ip.empty() ? std::nullopt : std::optional<Ipv4>(parse_ipv4(p.host_ip));
    const std::string port = std::to_string(p.host_port) + "/" + p.proto;
    if (port_taken_by(listeners, p.proto, p.host_port, ip))
      throw PortInUseError("host port " + port + " is in use by a process on the host");
    if (!published) published = env.fw.list_forwards();
    for (const auto& f : *published)
      if (f.proto == p.proto && f.host_port == p.host_port && (!f.host_ip || !ip || *f.host_ip == *ip))
        throw PortInUseError("host port " + port + " is already published by container " + short_id(f.owner));
  }
}

// --------------------------------------------------------------- networks

NetworkConfig create_network(NetEnv& env, const NewNetwork& req) {
  auto lock = env.store.lock();
  NetworkConfig n = plan_network(req, env.store.list(), env.host.routed_subnets(), env.host.link_names(),
                                 random_hex_id(), now_rfc3339());
  sys::ScopeGuard undo([&] {
    ErrorList errs;
    errs.capture("remove firewall chains", [&] { env.fw.remove_network(fw_of(n)); });
    errs.capture("delete bridge", [&] { env.host.delete_link_if_exists(n.bridge); });
  });
  ensure_kernel_objects(env, n);
  env.store.save(n);
  undo.dismiss();
  return n;
}

NetworkConfig ensure_default_network(NetEnv& env) {
  auto lock = env.store.lock();
  if (auto n = env.store.try_get(kDefaultNetwork)) return *n;
  return create_default_locked(env);
}

void remove_network(NetEnv& env, const std::string& name, const std::function<bool(const std::string&)>& container_exists) {
  auto lock = env.store.lock();
  NetworkConfig n;
  try {
    n = env.store.get(name);
  } catch (const CorruptNetwork& e) {
    // What the file said (bridge, subnet) is lost with it: its files go, and
    // a bridge it had stays for `ip link del`.
    log::warn(std::string(e.what()) + ": removing the network's files; its bridge, if any, is left in place");
    env.store.remove(name);
    remove_hosts_batch_mark(env.store, name);
    return;
  }
  const auto stale = n.ipam.release_if([&](const Lease& l) { return !container_exists(l.container); });
  if (!n.ipam.leases().empty()) {
    std::string who;
    for (const auto& [ip, l] : n.ipam.leases()) who += (who.empty() ? "'" : ", '") + l.name + "'";
    throw UsageError("network '" + name + "' has containers attached: " + who);
  }
  if (!stale.empty()) env.store.save(n);
  env.fw.remove_network(fw_of(n));
  env.host.delete_link_if_exists(n.bridge);
  env.store.remove(name);
  remove_hosts_batch_mark(env.store, name);
}

size_t release_orphans(NetEnv& env, const std::function<bool(const std::string&)>& container_exists) {
  auto lock = env.store.lock();
  // Checked under the lock, after the leases are read: attach makes a lease
  // under it, and only once the container's record exists, so an owner
  // found missing here is gone for good.
  auto gone = [&](const std::string& id) { return id.empty() || !container_exists(id); };
  size_t released = 0;
  std::vector<std::string> touched;
  for (const auto& n : env.store.list()) {
    size_t here = 0;
    for (const auto& [ip, l] : n.ipam.leases())
      if (gone(l.container)) here += env.store.release(n.name, l.container, {ip}).size();
    if (here) touched.push_back(n.name);
    released += here;
  }
  std::set<std::string> owners;
  for (const auto& f : env.fw.list_forwards())
    if (gone(f.owner)) owners.insert(f.owner);
  for (const auto& o : owners) released += env.fw.remove_forwards_of(o);
  ErrorList errs;  // a peer's file is a convenience
  if (!touched.empty()) refresh_peers(env, env.store.list(), touched, "", errs);
  for (const auto& e : errs.errors()) log::warn(e + ", ignoring");
  return released;
}

void rewrite_hosts(const NetworkStore& store, const fs::path& containers_dir, const std::vector<std::string>& networks) {
  const auto all = store.list();
  std::set<std::string> ids;
  for (const auto& n : all) {
    if (n.is_default() || std::find(networks.begin(), networks.end(), n.name) == networks.end()) continue;
    for (const auto& [ip, l] : n.ipam.leases()) ids.insert(l.container);
  }
  ErrorList errs;  // every file is tried
  for (const auto& id : ids)
    errs.capture("update /etc/hosts of " + short_id(id), [&] { write_hosts(containers_dir, all, id, false); });
  if (!errs.empty()) throw sys::Error(errs.str());
}

}  // namespace nrun::net
