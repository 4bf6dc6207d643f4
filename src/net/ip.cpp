#include "net/ip.hpp"

#include <charconv>
#include <cstdio>

#include "runtime/sys/error.hpp"

namespace nrun::net {
using sys::UsageError;

namespace {
// A decimal number with no sign, no leading zero (except "0") and no
// trailing garbage.
std::optional<unsigned> parse_decimal(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string Ipv4::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255);
  return buf;
}

std::array<uint8_t, 4> Ipv4::bytes() const {
  return {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 8),
          static_cast<uint8_t>(value)};
}

uint32_t Ipv4::be() const { return __builtin_bswap32(value); }

std::optional<Ipv4> try_parse_ipv4(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    const auto octet = parse_decimal(s.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    v = (v << 8) | *octet;
    s.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  if (!s.empty()) return std::nullopt;
  return Ipv4{v};
}

Ipv4 parse_ipv4(std::string_view s, std::string_view what) {
  if (auto ip = try_parse_ipv4(s)) return *ip;
  throw UsageError("invalid " + std::string(what) + " '" + std::string(s) + "': expected an IPv4 address a.b.c.d");
}

std::string Cidr::str() const { return addr.str() + "/" + std::to_string(prefix); }

Cidr parse_cidr(std::string_view s, bool require_network, std::string_view what) {
  const std::string bad = "invalid " + std::string(what) + " '" + std::string(s) + "'";
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) throw UsageError(bad + ": expected CIDR notation a.b.c.d/N");
  const auto ip = try_parse_ipv4(s.substr(0, slash));
  const auto prefix = parse_decimal(s.substr(slash + 1), 32);
  if (!ip) throw UsageError(bad + ": not an IPv4 address");
  if (!prefix) throw UsageError(bad + ": prefix length must be 0-32");
  Cidr c{*ip, static_cast<int>(*prefix)};
  if (require_network && !c.is_network())
    throw UsageError(bad + ": host bits are set (did you mean " + Cidr{c.network(), c.prefix}.str() + "?)");
  return c;
}

std::optional<std::string> reserved_block_of(const Cidr& c) {
  static const std::pair<Cidr, const char*> kReserved[] = {
      {{Ipv4{0x00000000}, 8}, "\"this network\" 0.0.0.0/8"},   {{Ipv4{0x7f000000}, 8}, "loopback 127.0.0.0/8"},
      {{Ipv4{0xa9fe0000}, 16}, "link-local 169.254.0.0/16"}, {{Ipv4{0xe0000000}, 4}, "multicast 224.0.0.0/4"},
      {{Ipv4{0xf0000000}, 4}, "reserved 240.0.0.0/4"}};
  for (const auto& [block, name] : kReserved)
    if (overlaps(c, block)) return std::string(name);
  return std::nullopt;
}

bool overlaps(const Cidr& a, const Cidr& b) {
  const int p = std::min(a.prefix, b.prefix);
  const uint32_t m = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return (a.addr.value & m) == (b.addr.value & m);
}

std::string Mac::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2], octets[3],
                octets[4], octets[5]);
  return buf;
}

bool Mac::is_zero() const {
  for (auto o : octets)
    if (o) return false;
  return true;
}

Mac parse_mac(std::string_view s, bool require_unicast) {
  const std::string bad = "invalid MAC address '" + std::string(s) + "'";
  Mac m;
  if (s.size() != 17) throw UsageError(bad + ": expected six hex octets aa:bb:cc:dd:ee:ff");
  const char sep = s[2];
  if (sep != ':' && sep != '-') throw UsageError(bad + ": expected six hex octets aa:bb:cc:dd:ee:ff");
  for (int i = 0; i < 6; ++i) {
    const int hi = hex_digit(s[i * 3]), lo = hex_digit(s[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != sep))
      throw UsageError(bad + ": expected six hex octets aa:bb:cc:dd:ee:ff");
    m.octets[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (require_unicast && (!m.is_unicast() || m.is_zero()))
    throw UsageError(bad + ": not a unicast address (the first octet must be even, and not all zero)");
  return m;
}

Mac mac_for(Ipv4 ip) {
  const auto b = ip.bytes();
  return Mac{{0x02, 0x42, b[0], b[1], b[2], b[3]}};
}

}  // namespace nrun::net
