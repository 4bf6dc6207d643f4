#include "net/rtnl.hpp"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>

#include <cstring>

#include "runtime/sys/log.hpp"

namespace nrun::net {

namespace {
bool is_missing(int nle) { return nle == NLE_NODEV || nle == NLE_OBJ_NOTFOUND; }

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Iterates the objects of a libnl cache.
template <class T, class F>
void for_each_object(nl_cache* cache, F&& fn) {
  for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) fn(reinterpret_cast<T*>(o));
}
}  // namespace

LibnlRtnl::LibnlRtnl() : sock_(open_rtnl()) {}
LibnlRtnl::LibnlRtnl(NlSock sock) : sock_(std::move(sock)) {}

std::optional<Link> LibnlRtnl::try_get_link(const std::string& name) {
  rtnl_link* raw = nullptr;
  const int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw);
  if (rc < 0) {
    if (is_missing(-rc)) return std::nullopt;
    nl_check(rc, "look up link " + quoted(name));
  }
  // Success without an object is an answer that was not ours; never
  // hand on a null link.
  if (!raw) throw sys::Error("look up link " + quoted(name) + ": the kernel's answer held no link");
  return Link(raw);
}

Link LibnlRtnl::get_link(const std::string& name) {
  auto l = try_get_link(name);
  if (!l) throw NetlinkError(NLE_NODEV, "look up link " + quoted(name));
  return std::move(*l);
}

bool LibnlRtnl::link_exists(const std::string& name) { return try_get_link(name).has_value(); }

void LibnlRtnl::ensure_bridge(const std::string& name, unsigned mtu, std::optional<Mac> mac) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto existing = try_get_link(name)) {
      const char* kind = rtnl_link_get_type(existing->get());
      if (!kind || std::strcmp(kind, "bridge") != 0)
        throw sys::Error("a network interface named " + quoted(name) + " exists and is not a bridge");
      if (!(rtnl_link_get_flags(existing->get()) & IFF_UP)) {
        Link change(rtnl_link_alloc());
        if (!change) throw sys::Error("allocate link: out of memory");
        rtnl_link_set_flags(change.get(), IFF_UP);
        nl_check(rtnl_link_change(sock_.get(), existing->get(), change.get(), 0), "bring up bridge " + quoted(name));
      }
      return;
    }
    Link br(rtnl_link_alloc());
    if (!br) throw sys::Error("allocate link: out of memory");
    nl_check(rtnl_link_set_type(br.get(), "bridge"), "bridge link type");
    rtnl_link_set_name(br.get(), name.c_str());
    if (mtu) rtnl_link_set_mtu(br.get(), mtu);
    if (mac) {
      uint8_t octets[6];
      std::memcpy(octets, mac->octets.data(), 6);
      const NlAddr a = make_mac_addr(octets);
      rtnl_link_set_addr(br.get(), a.get());
    }
    rtnl_link_set_flags(br.get(), IFF_UP);
    log::debug("rtnl: create bridge '" + name + "'");
    const int rc = rtnl_link_add(sock_.get(), br.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (rc == -NLE_EXIST) continue;  // made concurrently: check what it is
    nl_check(rc, "create bridge " + quoted(name));
    return;
  }
}

void LibnlRtnl::ensure_address(const std::string& ifname, const Cidr& addr) {
  const Link link = get_link(ifname);
  RtnlAddr a(rtnl_addr_alloc());
  if (!a) throw sys::Error("allocate address: out of memory");
  rtnl_addr_set_ifindex(a.get(), rtnl_link_get_ifindex(link.get()));
  const NlAddr local = make_ipv4_addr(addr.addr.value, addr.prefix);
  nl_check(rtnl_addr_set_local(a.get(), local.get()), "address");
  if (addr.prefix < 31) {
    const NlAddr brd = make_ipv4_addr(addr.broadcast().value, addr.prefix);
    nl_check(rtnl_addr_set_broadcast(a.get(), brd.get()), "broadcast address");
  }
  log::debug("rtnl: add address " + addr.str() + " to '" + ifname + "'");
  const int rc = rtnl_addr_add(sock_.get(), a.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (rc == -NLE_EXIST) return;
  nl_check(rc, "add address " + addr.str() + " to " + quoted(ifname));
}

void LibnlRtnl::create_veth(const VethSpec& v) {
  const Link master = get_link(v.master);
  Link veth(rtnl_link_veth_alloc());
  if (!veth) throw sys::Error("allocate veth: out of memory");
  Link peer(rtnl_link_veth_get_peer(veth.get()));  // libnl 3.7 takes a reference
  if (!peer) throw sys::Error("veth without a peer");
  rtnl_link_set_name(veth.get(), v.host_name.c_str());
  rtnl_link_set_master(veth.get(), rtnl_link_get_ifindex(master.get()));
  rtnl_link_set_flags(veth.get(), IFF_UP);
  rtnl_link_set_name(peer.get(), v.peer_name.c_str());
  if (v.peer_netns) rtnl_link_set_ns_fd(peer.get(), v.peer_netns->get());
  if (v.mtu) {
    rtnl_link_set_mtu(veth.get(), v.mtu);
    rtnl_link_set_mtu(peer.get(), v.mtu);
  }
  if (v.peer_mac) {
    uint8_t octets[6];
    std::memcpy(octets, v.peer_mac->octets.data(), 6);
    const NlAddr mac = make_mac_addr(octets);
    rtnl_link_set_addr(peer.get(), mac.get());
  }
  log::debug("rtnl: create veth '" + v.host_name + "' (master '" + v.master + "') with peer '" + v.peer_name +
             "' in the container");
  nl_check(rtnl_link_add(sock_.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL),
           "create veth pair " + quoted(v.host_name) + "/" + quoted(v.peer_name));
}

bool LibnlRtnl::delete_link_if_exists(const std::string& name) {
  Link l(rtnl_link_alloc());
  if (!l) throw sys::Error("allocate link: out of memory");
  rtnl_link_set_name(l.get(), name.c_str());
  log::debug("rtnl: delete link '" + name + "'");
  const int rc = rtnl_link_delete(sock_.get(), l.get());
  if (rc < 0 && is_missing(-rc)) return false;
  nl_check(rc, "delete link " + quoted(name));
  return true;
}

std::vector<std::string> LibnlRtnl::link_names() {
  nl_cache* raw = nullptr;
  nl_check(rtnl_link_alloc_cache(sock_.get(), AF_UNSPEC, &raw), "list links");
  if (!raw) throw sys::Error("list links: no cache");
  NlCache cache(raw);
  std::vector<std::string> out;
  for_each_object<rtnl_link>(cache.get(), [&](rtnl_link* l) {
    if (const char* n = rtnl_link_get_name(l)) out.emplace_back(n);
  });
  return out;
}

std::vector<Cidr> LibnlRtnl::routed_subnets() {
  nl_cache* raw = nullptr;
  // libnl restarts a dump interrupted by a concurrent change (NLE_DUMP_INTR).
  nl_check(rtnl_route_alloc_cache(sock_.get(), AF_INET, 0, &raw), "list routes");
  if (!raw) throw sys::Error("list routes: no cache");
  NlCache cache(raw);
  std::vector<Cidr> out;
  for_each_object<rtnl_route>(cache.get(), [&](rtnl_route* r) {
    const uint32_t table = rtnl_route_get_table(r);
    const uint8_t type = rtnl_route_get_type(r);
    if (!(table == RT_TABLE_MAIN && type == RTN_UNICAST) && type != RTN_LOCAL) return;
    nl_addr* dst = rtnl_route_get_dst(r);
    if (!dst || nl_addr_get_family(dst) != AF_INET || nl_addr_get_len(dst) != 4) return;
    const int prefix = static_cast<int>(nl_addr_get_prefixlen(dst));
    if (prefix == 0) return;  // the default route overlaps everything
    uint32_t be;
    std::memcpy(&be, nl_addr_get_binary_addr(dst), 4);
    out.push_back(Cidr{Ipv4{ntohl(be)}, prefix});
  });
  return out;
}

void LibnlRtnl::add_default_route(Ipv4 gateway, const std::string& ifname) {
  const Link link = get_link(ifname);
  RtnlRoute route(rtnl_route_alloc());
  if (!route) throw sys::Error("allocate route: out of memory");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  const NlAddr dst = make_ipv4_addr(0, 0);
  nl_check(rtnl_route_set_dst(route.get(), dst.get()), "route destination");
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) throw sys::Error("allocate next hop: out of memory");
  const NlAddr gw = make_ipv4_addr(gateway.value, 32);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(link.get()));
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  log::debug("rtnl: default route via " + gateway.str() + " dev '" + ifname + "'");
  const int rc = rtnl_route_add(sock_.get(), route.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (rc == -NLE_EXIST) return;
  nl_check(rc, "add default route via " + gateway.str());
}

void LibnlRtnl::set_link_up(const std::string& ifname) {
  const Link link = get_link(ifname);
  if (rtnl_link_get_flags(link.get()) & IFF_UP) return;
  Link change(rtnl_link_alloc());
  if (!change) throw sys::Error("allocate link: out of memory");
  rtnl_link_set_flags(change.get(), IFF_UP);
  log::debug("rtnl: bring up '" + ifname + "'");
  nl_check(rtnl_link_change(sock_.get(), link.get(), change.get(), 0), "bring up " + quoted(ifname));
}

std::unique_ptr<Rtnl> LibnlRtnl::open_in(const sys::Fd& netns) {
  return std::make_unique<LibnlRtnl>(open_rtnl_in(netns));
}

}  // namespace nrun::net
