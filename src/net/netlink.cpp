#include "net/netlink.hpp"

#include <arpa/inet.h>
#include <netlink/errno.h>
#include <sched.h>

#include <cstdlib>

#include "runtime/sys/proc.hpp"

namespace nrun::net {

namespace {
// What the user can do about the common failures (libnl's codes are lossy:
// EEXIST and EADDRINUSE are both NLE_EXIST, ENOENT and ESRCH NLE_OBJ_NOTFOUND).
std::string hint(int nle) {
  switch (nle) {
    case NLE_EXIST: return " (the name or address is already taken)";
    case NLE_PERM:
    case NLE_NOACCESS: return " (needs root or CAP_NET_ADMIN)";
    case NLE_OPNOTSUPP:
      return " (not supported by this kernel: check that the bridge and veth modules are available)";
    case NLE_NODEV: return " (no such network interface)";
    default: return "";
  }
}
}  // namespace

NetlinkError::NetlinkError(int code, const std::string& what)
    : sys::Error(what + ": " + nl_geterror(code) + hint(code)), nle(code) {}

ScopedNetns::ScopedNetns(const sys::Fd& target) {
  sys::assert_single_threaded("switch network namespace");
  home_ = sys::open_path("/proc/thread-self/ns/net", O_RDONLY);
  sys::check(::setns(target.get(), CLONE_NEWNET), "setns(CLONE_NEWNET)");
}

ScopedNetns::~ScopedNetns() {
  if (::setns(home_.get(), CLONE_NEWNET) != 0) std::abort();  // never continue in the wrong namespace
}

sys::Fd open_netns_of(pid_t pid) { return sys::open_path("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY); }

NlSock open_rtnl() {
  NlSock sock(nl_socket_alloc());
  if (!sock) throw sys::Error("allocate netlink socket: out of memory");
  nl_check(nl_connect(sock.get(), NETLINK_ROUTE), "connect rtnetlink socket");
  // libnl's socket is blocking and waits for every ACK (nl_send_sync).
  return sock;
}

NlSock open_rtnl_in(const sys::Fd& netns) {
  ScopedNetns in(netns);
  return open_rtnl();
}

NlAddr make_ipv4_addr(uint32_t host_order, int prefix) {
  const uint32_t be = htonl(host_order);
  NlAddr a(nl_addr_build(AF_INET, &be, sizeof be));
  if (!a) throw sys::Error("allocate netlink address: out of memory");
  nl_addr_set_prefixlen(a.get(), prefix);
  return a;
}

NlAddr make_mac_addr(const uint8_t (&octets)[6]) {
  NlAddr a(nl_addr_build(AF_LLC, octets, 6));
  if (!a) throw sys::Error("allocate netlink address: out of memory");
  return a;
}

}  // namespace nrun::net
