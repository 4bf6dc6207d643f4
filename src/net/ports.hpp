// Host ports: which are taken by listening sockets on the host, and
// picking a free one for -p CPORT / -P.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/ip.hpp"
#include "net/nat.hpp"

namespace nrun::net {

struct Listener {
  std::string proto;        // tcp | udp
  uint16_t port = 0;
  std::optional<Ipv4> ip;   // empty: every address (0.0.0.0 or ::)
  bool operator==(const Listener&) const = default;
};

// Parses /proc/net/{tcp,udp}[6] text: listening TCP sockets and bound,
// unconnected UDP sockets. IPv6 sockets count when bound to :: or to an
// IPv4-mapped address.
std::vector<Listener> parse_proc_net(const std::string& text, const std::string& proto, bool ipv6);
// All four tables under `proc_net` (missing ones are skipped).
std::vector<Listener> host_listeners(const std::string& proc_net = "/proc/net");

// True when a socket listens on (proto, port) where host_ip (or every
// address) would receive it.
bool port_taken_by(const std::vector<Listener>& listeners, const std::string& proto, uint16_t port,
                   const std::optional<Ipv4>& host_ip);
// True when nrun already forwards (proto, port) on an overlapping address.
bool port_taken_by(const std::vector<Forward>& forwards, const std::string& proto, uint16_t port,
                   const std::optional<Ipv4>& host_ip);

struct PortRange {
  uint16_t first = 32768, last = 60999;
};
// /proc/sys/net/ipv4/ip_local_port_range, or the kernel's default.
PortRange ephemeral_port_range(const std::string& proc_sys = "/proc/sys");

// The lowest port in [first, last] taken by neither; nullopt when none.
std::optional<uint16_t> pick_free_port(uint16_t first, uint16_t last, const std::string& proto,
                                       const std::optional<Ipv4>& host_ip, const std::vector<Listener>& listeners,
                                       const std::vector<Forward>& forwards);

}  // namespace nrun::net
