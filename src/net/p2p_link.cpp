#include "net/p2p_link.hpp"

#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include <cstring>

#include "net/netlink.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::net {

namespace {
void set_mac(rtnl_link* link, const Mac& mac) {
  uint8_t octets[6];
  std::memcpy(octets, mac.octets.data(), 6);
  const NlAddr a = make_mac_addr(octets);
  rtnl_link_set_addr(link, a.get());
}
}  // namespace

void create_p2p_veth(nl_sock* sock_a, const P2pEnd& a, const P2pEnd& b, const sys::Fd& b_netns, unsigned mtu) {
  Link veth(rtnl_link_veth_alloc());
  if (!veth) throw sys::Error("allocate veth: out of memory");
  Link peer(rtnl_link_veth_get_peer(veth.get()));  // libnl 3.7 takes a reference
  if (!peer) throw sys::Error("veth without a peer");
  rtnl_link_set_name(veth.get(), a.ifname.c_str());
  rtnl_link_set_name(peer.get(), b.ifname.c_str());
  set_mac(veth.get(), a.mac);
  set_mac(peer.get(), b.mac);
  rtnl_link_set_ns_fd(peer.get(), b_netns.get());
  if (mtu) {
    rtnl_link_set_mtu(veth.get(), mtu);
    rtnl_link_set_mtu(peer.get(), mtu);
  }
  log::debug("rtnl: create veth '" + a.ifname + "' with peer '" + b.ifname + "' in another namespace");
  nl_check(rtnl_link_add(sock_a, veth.get(), NLM_F_CREATE | NLM_F_EXCL),
           "create veth pair '" + a.ifname + "'/'" + b.ifname + "'");
}

}  // namespace nrun::net
