#include "net/netlink.hpp"

#include <arpa/inet.h>
#include <netlink/errno.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "runtime/sys/log.hpp"
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

// ------------------------------------------------------------- NlSock

struct NlSock::Sync {
  nl_sock* sock = nullptr;
  uint32_t sent_seq = 0;
  // The queue may hold messages that are not answers to the next request:
  // the last request was not answered in full, or a stray message was read.
  bool dirty = false;
};

namespace {
// NL_CB_MSG_OUT: libnl calls it in nl_sendmsg() with the finished message.
int on_send(nl_msg* msg, void* arg) {
  auto* s = static_cast<NlSock::Sync*>(arg);
  if (s->dirty && drain_netlink(nl_socket_get_fd(s->sock)) < 0) return -NLE_FAILURE;
  s->sent_seq = nlmsg_hdr(msg)->nlmsg_seq;
  s->dirty = true;
  return NL_OK;
}

// NL_CB_SEQ_CHECK, instead of libnl's own check: only the last request's
// answer is accepted. A negative return ends the exchange with that error.
int on_receive(nl_msg* msg, void* arg) {
  auto* s = static_cast<NlSock::Sync*>(arg);
  const nlmsghdr* h = nlmsg_hdr(msg);
  if (h->nlmsg_seq != s->sent_seq) {
    s->dirty = true;
    return -NLE_SEQ_MISMATCH;
  }
  if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_OVERRUN)
    s->dirty = false;  // the answer is complete
  return NL_OK;
}
}  // namespace

NlSock::NlSock() noexcept = default;
NlSock::NlSock(NlSock&&) noexcept = default;
NlSock& NlSock::operator=(NlSock&&) noexcept = default;
NlSock::~NlSock() = default;

NlSock::NlSock(nl_sock* sock) : sock_(sock) {
  if (!sock_) return;
  sync_ = std::make_unique<Sync>();
  sync_->sock = sock;
  if (nl_socket_modify_cb(sock, NL_CB_MSG_OUT, NL_CB_CUSTOM, on_send, sync_.get()) < 0 ||
      nl_socket_modify_cb(sock, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_receive, sync_.get()) < 0)
    throw sys::Error("set up netlink socket: out of memory");
}

int drain_netlink(int fd) noexcept {
  // MSG_TRUNC: a datagram too long for the buffer is dropped whole all the
  // same. A dump still running refills the queue as it is read, up to its
  // NLMSG_DONE; the bound only stops a peer that never stops sending.
  char buf[64];
  for (int i = 0; i < 1'000'000; ++i) {
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC) >= 0) continue;
    if (errno == EINTR || errno == ENOBUFS) continue;  // ENOBUFS: messages were lost already, go on
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -1;
  }
  errno = EOVERFLOW;
  return -1;
}

// --------------------------------------------------------------- sockets

sys::Fd open_netns_of(pid_t pid) { return sys::open_path("/proc/" + std::to_string(pid) + "/ns/net", O_RDONLY); }

NlSock open_rtnl() {
  NlSock sock(nl_socket_alloc());
  if (!sock) throw sys::Error("allocate netlink socket: out of memory");
  nl_check(nl_connect(sock.get(), NETLINK_ROUTE), "connect rtnetlink socket");
  // libnl's socket is blocking and waits for every ACK (nl_send_sync).
  return sock;
}

namespace {
// Back to the namespace of `home`. setns to a namespace we were in fails
// only for want of memory (or when a test injects it): try again, then
// stop. Never go on in the wrong namespace (new sockets, /proc/net and
// /proc/sys/net would be the container's), and never abort either: one
// clear error and 125; `rm -f` and `gc` undo what was made, from records.
void return_to(const sys::Fd& home) noexcept {
  int err = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::setns(home.get(), CLONE_NEWNET) == 0) {
      if (attempt > 0) log::debug("setns back to nrun's network namespace failed, then worked");
      return;
    }
    err = errno;
  }
  log::error(std::string("cannot return to nrun's own network namespace: ") + std::strerror(err) +
             "; stopping here ('nrun rm -f' and 'nrun gc' remove what was made)");
  ::_exit(125);
}
}  // namespace

NlSock open_rtnl_in(const sys::Fd& netns) {
  // On this thread, in and straight back: two setns calls, ~50 us. A child
  // or a thread that joins the namespace never needs the way back, but the
  // new task must wait for a CPU: measured here 0.15 ms at best and 2-18 ms
  // at load 5, against ~2 ms that a container's whole networking costs
  // (bench_net.sh).
  sys::assert_single_threaded("switch network namespace");
  const sys::Fd home = sys::open_path("/proc/thread-self/ns/net", O_RDONLY);
  sys::check(::setns(netns.get(), CLONE_NEWNET), "join the container's network namespace");
  NlSock sock;
  std::exception_ptr failed;
  try {
    sock = open_rtnl();
  } catch (...) {
    failed = std::current_exception();
  }
  return_to(home);
  if (failed) std::rethrow_exception(failed);
  return sock;
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
