// RAII owners for libnl-3 objects, the NetlinkError model, and sockets
// opened inside another network namespace (netavark's trick: the socket is
// made in the namespace and used from outside; it stays bound to the
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

// A libnl socket whose requests and answers stay in step.
//
// libnl pairs a reply with its request through an expected sequence number
// that moves on only when a reply is read. A failed or interrupted receive
// leaves the reply queued, and some libnl calls ignore the failure (the
// ACK after rtnl_link_get_kernel's answer): the next request then reads the
// previous one's ACK as its answer, gets no object, and a caller that trusts
// it dereferences null. So every socket records the sequence number of the
// request it sends, fails any exchange that reads a message of another
// (NLE_SEQ_MISMATCH), and, before sending, drops whatever is still queued
// when the last request was not answered in full. Rtnetlink answers a
// request while it is sent (a dump goes on as it is read), so what is
// queued then is all there will be.
class NlSock {
 public:
  NlSock() noexcept;
  // Takes ownership of `sock` (null: an empty NlSock) and installs the checks.
  explicit NlSock(nl_sock* sock);
  NlSock(NlSock&&) noexcept;
  NlSock& operator=(NlSock&&) noexcept;
  ~NlSock();
  nl_sock* get() const noexcept { return sock_.get(); }
  explicit operator bool() const noexcept { return sock_ != nullptr; }

  struct Sync;  // the callbacks' state; at a stable address while the socket lives

 private:
  std::unique_ptr<Sync> sync_;  // declared first: destroyed after the socket
  std::unique_ptr<nl_sock, CFree<nl_socket_free>> sock_;
};

// Reads and drops every message queued on the netlink socket `fd` without
// blocking. Returns 0, or -1 with errno set.
int drain_netlink(int fd) noexcept;

// /proc/<pid>/ns/net.
sys::Fd open_netns_of(pid_t pid);

// A connected NETLINK_ROUTE socket in the calling thread's namespace.
NlSock open_rtnl();
// The same, bound to the namespace `netns` (an fd of /proc/PID/ns/net):
// this thread joins it, opens the socket and returns. When it cannot return
// it does not go on in the wrong namespace: it prints an error and exits
// 125 (never an abort). Refuses to run in a multi-threaded process.
NlSock open_rtnl_in(const sys::Fd& netns);

// A libnl address from an IPv4 address and prefix.
NlAddr make_ipv4_addr(uint32_t host_order, int prefix);
NlAddr make_mac_addr(const uint8_t (&octets)[6]);

}  // namespace nrun::net
