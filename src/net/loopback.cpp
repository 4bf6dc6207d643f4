#include "net/loopback.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

void bring_up_loopback() {
  // One ioctl rather than a netlink socket: this runs in the container's
  // init, where it is the only network change until the net module's work.
  sys::Fd sock(static_cast<int>(sys::check(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket")));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  sys::check(::ioctl(sock.get(), SIOCGIFFLAGS, &ifr), "get flags of lo");
  ifr.ifr_flags |= IFF_UP;
  sys::check(::ioctl(sock.get(), SIOCSIFFLAGS, &ifr), "bring up lo");
}

}  // namespace nrun::net
