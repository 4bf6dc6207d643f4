#include "net/ports.hpp"

#include <sstream>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::net {

namespace {
constexpr const char* kTcpListen = "0A";
constexpr const char* kUdpUnconnected = "07";

uint32_t hex32(const std::string& s) { return static_cast<uint32_t>(std::stoul(s, nullptr, 16)); }

// /proc/net/tcp prints the address as the kernel's __be32 in host order:
// on little-endian machines "0100007F" is 127.0.0.1.
Ipv4 proc_ipv4(const std::string& hex) { return Ipv4{__builtin_bswap32(hex32(hex))}; }

bool same_or_any(const std::optional<Ipv4>& a, const std::optional<Ipv4>& b) { return !a || !b || *a == *b; }
}  // namespace

std::vector<Listener> parse_proc_net(const std::string& text, const std::string& proto, bool ipv6) {
  std::vector<Listener> out;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string slot, local, remote, state;
    if (!(ls >> slot >> local >> remote >> state)) continue;
    if (state != (proto == "tcp" ? kTcpListen : kUdpUnconnected)) continue;
    const size_t colon = local.find(':');
    if (colon == std::string::npos) continue;
    const std::string addr = local.substr(0, colon);
    Listener l;
    l.proto = proto;
    try {
      l.port = static_cast<uint16_t>(hex32(local.substr(colon + 1)));
      if (!ipv6 && addr.size() == 8) {
        const Ipv4 ip = proc_ipv4(addr);
        if (ip.value != 0) l.ip = ip;
      } else if (ipv6 && addr.size() == 32) {
        // Four host-order 32-bit words; ::ffff:a.b.c.d has the address last.
        if (addr == std::string(32, '0')) {
          // :: : every address, IPv4 too unless IPV6_V6ONLY (assume not)
        } else if (addr.substr(0, 16) == std::string(16, '0') && addr.substr(16, 8) == "FFFF0000") {
          l.ip = proc_ipv4(addr.substr(24, 8));
        } else {
          continue;  // a specific IPv6 address: IPv4 forwards do not collide
        }
      } else {
        continue;
      }
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(l);
  }
  return out;
}

std::vector<Listener> host_listeners(const std::string& proc_net) {
  std::vector<Listener> out;
  struct Table {
    const char* file;
    const char* proto;
    bool v6;
  };
  static constexpr Table kTables[] = {{"tcp", "tcp", false}, {"tcp6", "tcp", true}, {"udp", "udp", false}, {"udp6", "udp", true}};
  for (const auto& [file, proto, v6] : kTables) {
    std::string text;
    try {
      text = sys::read_file(proc_net + "/" + file);
    } catch (const sys::SysError&) {
      continue;  // no IPv6, say
    }
    for (auto& l : parse_proc_net(text, proto, v6)) out.push_back(std::move(l));
  }
  return out;
}

bool port_taken_by(const std::vector<Listener>& listeners, const std::string& proto, uint16_t port,
                   const std::optional<Ipv4>& host_ip) {
  for (const auto& l : listeners)
    if (l.proto == proto && l.port == port && same_or_any(l.ip, host_ip)) return true;
  return false;
}

bool port_taken_by(const std::vector<Forward>& forwards, const std::string& proto, uint16_t port,
                   const std::optional<Ipv4>& host_ip) {
  for (const auto& f : forwards)
    if (f.proto == proto && f.host_port == port && same_or_any(f.host_ip, host_ip)) return true;
  return false;
}

PortRange ephemeral_port_range(const std::string& proc_sys) {
  PortRange r;
  try {
    std::istringstream in(sys::read_file(proc_sys + "/net/ipv4/ip_local_port_range"));
    unsigned a = 0, b = 0;
    if (in >> a >> b && a >= 1 && a <= b && b <= 65535) {
      r.first = static_cast<uint16_t>(a);
      r.last = static_cast<uint16_t>(b);
    }
  } catch (const sys::SysError&) {
  }
  return r;
}

std::optional<uint16_t> pick_free_port(uint16_t first, uint16_t last, const std::string& proto,
                                       const std::optional<Ipv4>& host_ip, const std::vector<Listener>& listeners,
                                       const std::vector<Forward>& forwards) {
  for (uint32_t p = first; p <= last; ++p) {
    const auto port = static_cast<uint16_t>(p);
    if (!port_taken_by(listeners, proto, port, host_ip) && !port_taken_by(forwards, proto, port, host_ip)) return port;
  }
  return std::nullopt;
}

}  // namespace nrun::net
