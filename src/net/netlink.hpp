// RAII owners for libnl-3 objects, the NetlinkError model, and sockets
// opened inside another network namespace (netavark's trick: setns on this
// single thread, open the socket, setns back; the socket stays bound to the
// namespace it was created in).
#pragma once
#include "runtime/sys/c_free.hpp"
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <memory>
#include <string>
#include <string_view>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

using sys::CFree;
using NlSock = std::unique_ptr<nl_sock, CFree<nl_socket_free>>;
using NlCache = std::unique_ptr<nl_cache, CFree<nl_cache_free>>;
using Link = std::unique_ptr<rtnl_link, CFree<rtnl_link_put>>;
using NlAddr = std::unique_ptr<nl_addr, CFree<nl_addr_put>>;
using RtnlAddr = std::unique_ptr<rtnl_addr, CFree<rtnl_addr_put>>;
using RtnlRoute = std::unique_ptr<rtnl_route, CFree<rtnl_route_put>>;

// A libnl failure. `nle` is the (positive) NLE_* code; what() carries the
// operation, libnl's text and, for the common codes, what the user can do.
struct NetlinkError : sys::Error {
  int nle;
  NetlinkError(int nle, const std::string& what);
};

// Throws NetlinkError for a negative libnl return code.
inline int nl_check(int rc, std::string_view what) {
  if (rc < 0) throw NetlinkError(-rc, std::string(what));
  return rc;
}

// Switches this thread into the network namespace `target` and back in the
// destructor; aborts when it cannot come back (never continue in the wrong
// namespace). Refuses to run in a multi-threaded process.
class ScopedNetns {
 public:
  explicit ScopedNetns(const sys::Fd& target);
  ~ScopedNetns();
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

 private:
  sys::Fd home_;
};

// /proc/<pid>/ns/net.
sys::Fd open_netns_of(pid_t pid);

// A connected NETLINK_ROUTE socket in the calling thread's namespace.
NlSock open_rtnl();
// The same, bound to the namespace `netns` (an fd of /proc/PID/ns/net).
NlSock open_rtnl_in(const sys::Fd& netns);

// A libnl address from an IPv4 address and prefix.
NlAddr make_ipv4_addr(uint32_t host_order, int prefix);
NlAddr make_mac_addr(const uint8_t (&octets)[6]);

}  // namespace nrun::net
