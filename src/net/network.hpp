// Attaching containers to networks and detaching them: what to create, in
// what order, and what to undo. The kernel is reached only through the Rtnl
// and Firewall seams, so unit tests drive all of this with fakes.
//
// Attach, under the network lock: the network's bridge, gateway address,
// firewall chains and ip_forward (idempotent, cheap when present); an
// address from IPAM; one veth pair per network with the peer created inside
// the container's namespace; the address and default route set through a
// socket opened in that namespace; published ports as map elements in one
// nft batch; /etc/hosts and /etc/resolv.conf, and peers' /etc/hosts.
//
// Detach runs every step whatever fails (ErrorList) and is idempotent.
// Everything is found from the container id alone when the state was lost:
// veth names derive from the id, leases and nft elements carry it.
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/error_list.hpp"
#include "net/firewall.hpp"
#include "net/network_store.hpp"
#include "net/options.hpp"
#include "net/rtnl.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

// What attach needs to know about the container.
struct ContainerNetInfo {
  std::string id, name, hostname;
  std::vector<NetworkAttachment> networks;
  std::vector<PortSpec> ports;
  std::vector<std::string> dns;
};

// One attachment as made, recorded in the container's state.
struct Endpoint {
  std::string network, network_id, bridge;
  std::string host_if;  // the veth end on the host
  std::string ifname;   // inside: eth0, eth1, ...
  Ipv4 ip;
  int prefix = 0;
  Ipv4 gateway;
  std::string mac;
  std::vector<std::string> aliases;
  bool default_route = false;
  bool internal = false;
  bool operator==(const Endpoint&) const = default;
};

struct NetState {
  std::vector<Endpoint> endpoints;
  std::vector<Forward> ports;
  bool empty() const { return endpoints.empty() && ports.empty(); }
};

void to_json(nlohmann::json& j, const Endpoint& e);
void from_json(const nlohmann::json& j, Endpoint& e);
void to_json(nlohmann::json& j, const NetState& s);
void from_json(const nlohmann::json& j, NetState& s);
void to_json(nlohmann::json& j, const Forward& f);
void from_json(const nlohmann::json& j, Forward& f);

struct NetEnv {
  NetworkStore& store;
  Rtnl& host;    // socket in the namespace that holds the bridges
  Firewall& fw;
  std::filesystem::path containers_dir;  // ROOT/containers: <id>/hosts, <id>/resolv.conf
  std::filesystem::path proc_sys = "/proc/sys";
  std::filesystem::path proc_net = "/proc/net";
  std::filesystem::path host_resolv_conf = "/etc/resolv.conf";
  // Where systemd-resolved keeps the upstream servers its stub forwards to:
  // used when the host's resolv.conf only names loopback resolvers.
  std::filesystem::path upstream_resolv_conf = "/run/systemd/resolve/resolv.conf";
};

// The host end of a container's veth: "nr" + 12 hex digits of the id + one
// character for the attachment index (15 characters: IFNAMSIZ - 1).
std::string veth_name(const std::string& container_id, size_t index);
std::string veth_prefix(const std::string& container_id);

// The files attach writes for a container, bind-mounted by init.
std::vector<std::pair<std::filesystem::path, std::string>> container_files(const std::filesystem::path& container_dir);

// Set up everything; on failure undo what was made and throw.
NetState attach_container(NetEnv& env, const ContainerNetInfo& c, const sys::Fd& netns);
// Undo everything `state` records, or, without a state (lost: the monitor
// was killed mid-setup), everything that carries the container's id.
//
// `netns_alive` false says the container's namespace is dead or dying (its
// init has exited): its veth pairs then go away with it, in the kernel's
// own cleanup, so they are not deleted here. Deleting a veth synchronously
// costs 20-30 ms (RCU grace periods); the namespace's cleanup does the same
// work off the caller's path. A pair never outlives the namespace that
// holds its peer, so nothing leaks.
void detach_container(NetEnv& env, const std::string& id, const std::optional<NetState>& state, ErrorList& errs,
                      bool netns_alive = true) noexcept;

// Told the container's whole NetState with an endpoint about to be made,
// before anything of it exists (intent first): the caller persists it, so
// that whatever kills the process later leaves a record detach undoes.
using RecordState = std::function<void(const NetState&)>;

// network connect / disconnect on a running container. `record`, when
// given, is told the state with the new endpoint before its lease, veth or
// address exist, and told `state` again when a failed connect undid them.
Endpoint connect_container(NetEnv& env, const ContainerNetInfo& c, NetState& state, const NetworkAttachment& a,
                           const sys::Fd& netns, const RecordState& record = {});
// Idempotent: removes the endpoint `state` records on `network` and any
// lease of that network carrying the container's id (also without an
// endpoint). False when there was nothing to undo.
bool disconnect_container(NetEnv& env, const ContainerNetInfo& c, NetState& state, const std::string& network);

// gc: releases leases and published-port elements whose container (per
// `container_exists`, asked under the network lock) is gone, and torn
// leases of no container. Returns how many went.
size_t release_orphans(NetEnv& env, const std::function<bool(const std::string& id)>& container_exists);

// The checks a `run` can make before anything exists: the networks exist
// (or are the default), static addresses are free and in their subnets,
// fixed host ports are neither published by nrun nor listened on.
void check_container_options(NetEnv& env, const ContainerNetInfo& c);

// network create: the file, the bridge and its firewall chains.
NetworkConfig create_network(NetEnv& env, const NewNetwork& req);
// The default network, created on first use.
NetworkConfig ensure_default_network(NetEnv& env);
// Rewrites /etc/hosts of every container on the user networks `networks`
// (the end of a HostsBatch; the caller holds the network lock). Every file
// is tried; the failures are thrown together.
void rewrite_hosts(const NetworkStore& store, const std::filesystem::path& containers_dir,
                   const std::vector<std::string>& networks);

// network rm: refused while a container whose record exists (per
// `container_exists`) holds an address; stale leases are dropped.
void remove_network(NetEnv& env, const std::string& name,
                    const std::function<bool(const std::string& id)>& container_exists);

}  // namespace nrun::net
