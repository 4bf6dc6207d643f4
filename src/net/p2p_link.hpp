// Point-to-point links between two network namespaces: a veth pair whose
// ends are born in their namespaces with their final names and MACs, so
// nothing is ever visible in the host's namespace and nothing is renamed or
// moved afterwards.
#pragma once
#include <netlink/socket.h>

#include <string>

#include "net/ip.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

struct P2pEnd {
  std::string ifname;
  Mac mac;
};

// One RTM_NEWLINK on `sock_a`, a socket bound to a's namespace: end `a`
// there, end `b` placed in `b_netns` by IFLA_NET_NS_FD. Both stay down
// (kernels with per-namespace RTNL refuse to bring up a device of another
// namespace at creation); the caller brings each up through a socket in its
// own namespace. `mtu` 0 keeps the kernel's default. Throws NetlinkError
// (NLE_EXIST when a name is taken on either side).
void create_p2p_veth(nl_sock* sock_a, const P2pEnd& a, const P2pEnd& b, const sys::Fd& b_netns, unsigned mtu);

}  // namespace nrun::net
