#include "net/nat.hpp"

#include <netinet/in.h>

#include "runtime/sys/error.hpp"

namespace nrun::net {

namespace {
constexpr int kPriorityDstnat = -100;
constexpr int kPrioritySrcnat = 100;
constexpr int kPriorityFilter = 0;
}  // namespace

std::string nat_chain_name(const FwNetwork& n) { return "nat_" + n.id; }
std::string forward_chain_name(const FwNetwork& n) { return "fwd_" + n.id; }

std::vector<ChainPlan> base_chains() {
  const std::vector<NatRule> dnat = {{RuleKind::dnat_ip, "", {}}, {RuleKind::dnat_any, "", {}}};
  return {{"prerouting", "nat", "prerouting", kPriorityDstnat, dnat},
          {"output", "nat", "output", kPriorityDstnat, dnat}};
}

std::vector<ChainPlan> network_chains(const FwNetwork& n) {
  ChainPlan nat{nat_chain_name(n), "nat", "postrouting", kPrioritySrcnat, {}};
  if (!n.internal) nat.rules.push_back({RuleKind::masquerade_out, n.bridge, n.subnet});
  nat.rules.push_back({RuleKind::masquerade_hairpin, n.bridge, {}});
  ChainPlan fwd{forward_chain_name(n), "filter", "forward", kPriorityFilter, {}};
  if (n.internal) {
    fwd.rules.push_back({RuleKind::internal_out, n.bridge, {}});
    fwd.rules.push_back({RuleKind::internal_in, n.bridge, {}});
  } else {
    fwd.rules.push_back({RuleKind::isolate, n.bridge, {}});
  }
  return {nat, fwd};
}

std::vector<ChainPlan> nat_plan(const std::vector<FwNetwork>& networks) {
  auto out = base_chains();
  for (const auto& n : networks)
    for (auto& c : network_chains(n)) out.push_back(std::move(c));
  return out;
}

std::string to_nft_syntax(const NatRule& r) {
  const std::string br = "\"" + r.bridge + "\"";
  switch (r.kind) {
    case RuleKind::dnat_ip:
      return "fib daddr type local meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @dnat_ip";
    case RuleKind::dnat_any:
      return "fib daddr type local meta nfproto ipv4 dnat ip to meta l4proto . th dport map @dnat_any";
    case RuleKind::masquerade_out:
      return "meta nfproto ipv4 ip saddr " + Cidr{r.subnet.network(), r.subnet.prefix}.str() + " oifname != " + br +
             " masquerade";
    case RuleKind::masquerade_hairpin: return "iifname " + br + " oifname " + br + " ct status dnat masquerade";
    case RuleKind::isolate:
      return "iifname " + br + " oifname != " + br + " oifname @bridges ct status != dnat drop";
    case RuleKind::internal_in: return "oifname " + br + " iifname != " + br + " drop";
    case RuleKind::internal_out: return "iifname " + br + " oifname != " + br + " drop";
  }
  return "?";
}

uint8_t ip_proto_number(const std::string& proto) {
  if (proto == "tcp") return IPPROTO_TCP;
  if (proto == "udp") return IPPROTO_UDP;
  throw sys::UsageError("invalid protocol '" + proto + "': tcp or udp");
}

std::string ip_proto_name(uint8_t number) {
  switch (number) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    default: return std::to_string(number);
  }
}

}  // namespace nrun::net
