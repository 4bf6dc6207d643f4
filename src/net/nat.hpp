// What nrun wants in its one nftables table, decided in pure code (the
// test netavark's rule builders never got). nft.cpp encodes it.
//
//   table inet nrun {
//     map dnat_any { type inet_proto . inet_service : ipv4_addr . inet_service }   # -p PORT:CPORT
//     map dnat_ip  { type ipv4_addr . inet_proto . inet_service : ... }            # -p IP:PORT:CPORT
//     set bridges  { type ifname }                                                  # every nrun bridge
//     chain prerouting { type nat hook prerouting priority dstnat      # from other hosts and containers
//       fib daddr type local meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @dnat_ip
//       fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat_any }
//     chain output { type nat hook output priority dstnat ... the same two rules }   # from the host itself
//     chain nat_<netid> { type nat hook postrouting priority srcnat                # one per network
//       meta nfproto ipv4 ip saddr SUBNET oifname != BR masquerade                 # not for --internal
//       iifname BR oifname BR ct status dnat masquerade }                          # hairpin
//     chain fwd_<netid> { type filter hook forward priority filter
//       iifname BR oifname != BR oifname @bridges ct status != dnat drop }          # isolation
//       # --internal instead: iifname BR oifname != BR drop; oifname BR iifname != BR drop
//   }
//
// Per-container state lives only in map elements, each carrying its
// container's id as a comment: adding the hundredth container costs what
// adding the first did, and a teardown that lost its state can still find
// exactly its own elements.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/ip.hpp"

namespace nrun::net {

inline constexpr const char* kNftTable = "nrun";  // family inet
inline constexpr const char* kDnatAnyMap = "dnat_any";
inline constexpr const char* kDnatIpMap = "dnat_ip";
inline constexpr const char* kBridgesSet = "bridges";

// A network as the firewall sees it.
struct FwNetwork {
  std::string id;  // short network id: names its chains
  std::string bridge;
  Cidr subnet;
  bool internal = false;
};

// A published port: host (address, port, protocol) -> container.
struct Forward {
  std::string proto = "tcp";      // tcp | udp
  std::optional<Ipv4> host_ip;    // empty: every local address
  uint16_t host_port = 0;
  Ipv4 container_ip;
  uint16_t container_port = 0;
  std::string owner;              // container id (element comment)
  bool operator==(const Forward&) const = default;
};

enum class RuleKind {
  dnat_ip,             // fib daddr local, dnat through @dnat_ip
  dnat_any,            // fib daddr local, dnat through @dnat_any
  masquerade_out,      // ip saddr SUBNET oifname != BR masquerade
  masquerade_hairpin,  // iifname BR oifname BR ct status dnat masquerade
  isolate,             // iifname BR oifname != BR oifname @bridges ct status != dnat drop
  internal_in,         // oifname BR iifname != BR drop
  internal_out,        // iifname BR oifname != BR drop
};

struct NatRule {
  RuleKind kind;
  std::string bridge;  // the network's, for the per-network kinds
  Cidr subnet;
  bool operator==(const NatRule&) const = default;
};

struct ChainPlan {
  std::string name;
  std::string type;  // nat | filter
  std::string hook;  // prerouting | output | postrouting | forward
  int priority = 0;
  std::vector<NatRule> rules;
};

// The chains every nrun table has (DNAT), and those of one network.
std::vector<ChainPlan> base_chains();
std::vector<ChainPlan> network_chains(const FwNetwork& n);
// Both, for a set of networks.
std::vector<ChainPlan> nat_plan(const std::vector<FwNetwork>& networks);

// The nft syntax of a rule, for logs and tests.
std::string to_nft_syntax(const NatRule& r);

std::string nat_chain_name(const FwNetwork& n);
std::string forward_chain_name(const FwNetwork& n);

// "tcp" -> 6, "udp" -> 17; throws UsageError otherwise.
uint8_t ip_proto_number(const std::string& proto);
std::string ip_proto_name(uint8_t number);

}  // namespace nrun::net
