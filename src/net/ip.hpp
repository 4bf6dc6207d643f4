// IPv4 addresses, CIDR blocks and MAC addresses: parsing, formatting and the
// arithmetic IPAM and the firewall need. Pure; bad input throws UsageError.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nrun::net {

// An IPv4 address in host byte order.
struct Ipv4 {
  uint32_t value = 0;
  auto operator<=>(const Ipv4&) const = default;
  std::string str() const;
  // Network byte order, as netlink and nftables want it.
  std::array<uint8_t, 4> bytes() const;
  uint32_t be() const;  // value in network byte order
};

// Parses dotted quad "a.b.c.d" (no leading zeros, nothing else); throws
// UsageError naming `what`.
Ipv4 parse_ipv4(std::string_view s, std::string_view what = "IP address");
std::optional<Ipv4> try_parse_ipv4(std::string_view s);

// An address with a prefix length. `addr` may have host bits set (a
// gateway "10.0.0.1/24"); network() clears them.
struct Cidr {
  Ipv4 addr;
  int prefix = 32;
  auto operator<=>(const Cidr&) const = default;

  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  Ipv4 network() const { return Ipv4{addr.value & mask()}; }
  Ipv4 broadcast() const { return Ipv4{network().value | ~mask()}; }
  // Number of addresses in the block (2^(32-prefix)).
  uint64_t size() const { return uint64_t{1} << (32 - prefix); }
  bool contains(Ipv4 ip) const { return (ip.value & mask()) == network().value; }
  bool is_network() const { return addr == network(); }
  std::string str() const;  // "10.0.0.0/24" (addr as given)
};

// Parses "a.b.c.d/N" (0 <= N <= 32); throws UsageError. With
// `require_network`, host bits must be zero ("10.0.0.1/24" is refused).
Cidr parse_cidr(std::string_view s, bool require_network = true, std::string_view what = "subnet");

// True when the two blocks share any address.
bool overlaps(const Cidr& a, const Cidr& b);

// The name of the special-purpose block (RFC 6890) `c` overlaps, where no
// container network can live: "this network" 0/8, loopback 127/8,
// link-local 169.254/16, multicast 224/4 and the reserved 240/4 with the
// broadcast address. nullopt for a block containers can use.
std::optional<std::string> reserved_block_of(const Cidr& c);

// A MAC address (6 octets).
struct Mac {
  std::array<uint8_t, 6> octets{};
  auto operator<=>(const Mac&) const = default;
  std::string str() const;  // "02:42:0a:58:00:02"
  bool is_unicast() const { return (octets[0] & 1) == 0; }
  bool is_zero() const;
};

// Parses "aa:bb:cc:dd:ee:ff" (or with '-'); throws UsageError. With
// `require_unicast` a multicast or all-zero address is refused.
Mac parse_mac(std::string_view s, bool require_unicast = true);
// A locally administered unicast MAC derived from an IPv4 address, as
// Docker does (02:42:a:b:c:d): unique within a network.
Mac mac_for(Ipv4 ip);

}  // namespace nrun::net
