// The link, address and route operations nrun needs, behind a narrow
// interface so the orchestration above it (network.cpp) can be driven by a
// fake in unit tests. LibnlRtnl speaks rtnetlink through libnl-route-3.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/ip.hpp"
#include "net/netlink.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

struct VethSpec {
  std::string host_name;   // stays in the caller's namespace, enslaved to `master`, up
  std::string peer_name;   // created directly inside `peer_netns`, up
  const sys::Fd* peer_netns = nullptr;  // borrowed fd of /proc/PID/ns/net
  std::string master;      // bridge of the host end
  unsigned mtu = 0;        // 0: the kernel's default
  std::optional<Mac> peer_mac;
};

class Rtnl {
 public:
  virtual ~Rtnl() = default;

  // Get-or-create: a bridge `name`, up, with the given MTU and MAC when
  // created (a set MAC keeps the bridge from taking its ports' addresses).
  // Throws when a link of that name exists and is not a bridge.
  virtual void ensure_bridge(const std::string& name, unsigned mtu, std::optional<Mac> mac) = 0;
  // Adds `addr` (an address with its prefix) to the link unless present.
  virtual void ensure_address(const std::string& ifname, const Cidr& addr) = 0;
  // One RTM_NEWLINK: the pair, the peer placed in its namespace by
  // IFLA_NET_NS_FD (no later move), the host end enslaved and up. The peer
  // stays down: kernels with per-namespace RTNL (6.13+) refuse to bring up
  // a device of another namespace at creation (ENOTCONN); set_link_up()
  // through a socket in that namespace does it.
  virtual void create_veth(const VethSpec& v) = 0;
  // Idempotent delete: false when there was no such link.
  virtual bool delete_link_if_exists(const std::string& name) = 0;
  virtual bool link_exists(const std::string& name) = 0;
  virtual std::vector<std::string> link_names() = 0;
  // Blocks the namespace already routes: destinations of main-table routes
  // with a non-zero prefix, and local addresses (as /32).
  virtual std::vector<Cidr> routed_subnets() = 0;
  virtual void add_default_route(Ipv4 gateway, const std::string& ifname) = 0;
  virtual void set_link_up(const std::string& ifname) = 0;

  // The same operations on a socket bound to the network namespace `netns`.
  virtual std::unique_ptr<Rtnl> open_in(const sys::Fd& netns) = 0;
};

class LibnlRtnl : public Rtnl {
 public:
  LibnlRtnl();                      // the calling thread's namespace
  explicit LibnlRtnl(NlSock sock);  // a socket opened elsewhere

  void ensure_bridge(const std::string& name, unsigned mtu, std::optional<Mac> mac) override;
  void ensure_address(const std::string& ifname, const Cidr& addr) override;
  void create_veth(const VethSpec& v) override;
  bool delete_link_if_exists(const std::string& name) override;
  bool link_exists(const std::string& name) override;
  std::vector<std::string> link_names() override;
  std::vector<Cidr> routed_subnets() override;
  void add_default_route(Ipv4 gateway, const std::string& ifname) override;
  void set_link_up(const std::string& ifname) override;
  std::unique_ptr<Rtnl> open_in(const sys::Fd& netns) override;

 private:
  std::optional<Link> try_get_link(const std::string& name);
  Link get_link(const std::string& name);
  NlSock sock_;
};

}  // namespace nrun::net
