#include "lab/names.hpp"

#include <cstdio>

namespace nrun::lab {

namespace {
constexpr size_t kMaxIfname = 15;
}

uint64_t fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

std::string node_container_name(const std::string& lab, const std::string& node) { return lab + "-" + node; }

std::string lab_network_name(const std::string& lab, const std::string& network) {
  const std::string full = lab + "-" + network;
  if (full.size() <= kMaxIfname) return full;
  // A NUL separates the parts, which no name contains: ("a-b", "c") and
  // ("a", "b-c") hash differently.
  const uint64_t h = mix64(fnv1a64(lab + std::string(1, '\0') + network));
  char hex[8];
  std::snprintf(hex, sizeof hex, "%05llx", static_cast<unsigned long long>(h & 0xfffff));
  return lab.substr(0, 4) + "-" + network.substr(0, 4) + "-" + hex;
}

net::Mac interface_mac(const std::string& lab, const std::string& node, const std::string& ifname) {
  const uint64_t h = mix64(fnv1a64(lab + std::string(1, '\0') + node + std::string(1, '\0') + ifname));
  net::Mac m;
  for (int i = 0; i < 6; ++i) m.octets[i] = static_cast<uint8_t>(h >> (8 * i));
  m.octets[0] = static_cast<uint8_t>((m.octets[0] & 0xfc) | 0x02);  // locally administered, unicast
  if (m.octets[0] == 0x02 && m.octets[1] == 0x42) m.octets[1] ^= 0x01;
  return m;
}

}  // namespace nrun::lab
