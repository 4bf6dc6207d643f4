#include "net/ipam.hpp"

#include "runtime/sys/error.hpp"

namespace nrun::net {

void Ipam::check_static(Ipv4 want, std::string_view network) const {
  const std::string net(network);
  if (!subnet_.contains(want))
    throw sys::UsageError("address " + want.str() + " is not in network '" + net + "' (" + subnet_.str() + ")");
  if (want == subnet_.network() || (subnet_.prefix < 31 && want == subnet_.broadcast()))
    throw sys::UsageError("address " + want.str() + " is the network or broadcast address of '" + net + "'");
  if (want == gateway_)
    throw sys::UsageError("address " + want.str() + " is the gateway of network '" + net + "'");
  if (auto it = leases_.find(want); it != leases_.end())
    throw sys::UsageError("address " + want.str() + " in network '" + net + "' is already in use by container '" +
                          it->second.name + "'");
}

Ipv4 Ipam::allocate(const Lease& lease, std::optional<Ipv4> want, std::string_view network) {
  if (want) {
    check_static(*want, network);
    leases_[*want] = lease;
    return *want;
  }
  const uint32_t first = subnet_.network().value + 1;
  const uint32_t last = subnet_.broadcast().value - 1;
  for (uint32_t v = first; v <= last && v >= first; ++v) {
    const Ipv4 ip{v};
    if (ip == gateway_ || leases_.count(ip)) continue;
    leases_[ip] = lease;
    return ip;
  }
  throw sys::Error("network '" + std::string(network) + "' has no free address left (" + subnet_.str() + ", " +
                   std::to_string(leases_.size()) + " in use)");
}

std::vector<Ipv4> Ipam::release(std::string_view container) {
  return release_if([&](const Lease& l) { return l.container == container; });
}

std::optional<Ipv4> Ipam::address_of(std::string_view container, std::string_view ifname) const {
  for (const auto& [ip, l] : leases_)
    if (l.container == container && (ifname.empty() || l.ifname == ifname)) return ip;
  return std::nullopt;
}

uint64_t Ipam::capacity() const {
  const uint64_t size = subnet_.size();
  if (size <= 2) return 0;
  const bool gw_inside = subnet_.contains(gateway_) && gateway_ != subnet_.network() && gateway_ != subnet_.broadcast();
  return size - 2 - (gw_inside ? 1 : 0);
}

void to_json(nlohmann::json& j, const Lease& l) {
  j = {{"container", l.container}, {"name", l.name}, {"hostname", l.hostname},
       {"aliases", l.aliases},     {"ifname", l.ifname}, {"mac", l.mac}};
}

void from_json(const nlohmann::json& j, Lease& l) {
  j.at("container").get_to(l.container);
  l.name = j.value("name", "");
  l.hostname = j.value("hostname", "");
  l.aliases = j.value("aliases", std::vector<std::string>{});
  l.ifname = j.value("ifname", "");
  l.mac = j.value("mac", "");
}

}  // namespace nrun::net
