// The names a lab gives what it creates, derived from the lab's and its
// parts' names alone, so a redeploy makes the same ones and two labs never
// share one.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "net/ip.hpp"

namespace nrun::lab {

// Nodes are ordinary containers: LAB-NODE.
std::string node_container_name(const std::string& lab, const std::string& node);

// The nrun network (and bridge) of a lab network: "LAB-NET" when that fits
// in 15 characters (IFNAMSIZ - 1), otherwise the first four characters of
// each, joined with 5 hex digits of a hash of the full names
// ("datac-core-1a2b3"), so it stays stable and distinct.
std::string lab_network_name(const std::string& lab, const std::string& network);

// A locally administered unicast MAC from the lab, node and interface
// names: captures look the same from one deploy to the next. Never in
// 02:42:..., the prefix nrun derives from addresses on other networks.
net::Mac interface_mac(const std::string& lab, const std::string& node, const std::string& ifname);

// FNV-1a, 64 bits: small, stable across builds and machines. Names that
// differ in their last character hash to values that differ only in the low
// bits, so what takes bytes from it mixes first (murmur3's finaliser).
uint64_t fnv1a64(std::string_view data);
uint64_t mix64(uint64_t h);

}  // namespace nrun::lab
