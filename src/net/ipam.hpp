// Address allocation within one network's subnet. Pure: under the network
// lock the caller loads the taken addresses (NetworkStore::try_get_addresses:
// the lease files' names) and records the lease it picked as a file
// (NetworkStore::add_lease).
//
// Policy: the lowest free address. The network address, the broadcast
// address and the gateway are never handed out. Every lease names its owner
// (the container id), so a teardown that lost its state can still release
// exactly that container's addresses.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/ip.hpp"

namespace nrun::net {

struct Lease {
  std::string container;  // full container id: the owner
  std::string name;       // container name, for peers' /etc/hosts
  std::string hostname;
  std::vector<std::string> aliases;
  std::string ifname;  // inside the container: eth0, eth1, ...
  std::string mac;
  bool operator==(const Lease&) const = default;
};

class Ipam {
 public:
  Ipam() = default;
  Ipam(Cidr subnet, Ipv4 gateway) : subnet_(subnet), gateway_(gateway) {}

  // The lowest free address, or `want` when given. Throws UsageError for a
  // `want` outside the subnet, reserved or taken, and Error naming
  // `network` when the subnet is exhausted.
  Ipv4 allocate(const Lease& lease, std::optional<Ipv4> want, std::string_view network);
  // The checks allocate() makes for a static address, without allocating.
  void check_static(Ipv4 want, std::string_view network) const;
  // Releases every address `container` holds here; returns them.
  std::vector<Ipv4> release(std::string_view container);
  // Drops the leases for which `drop(lease)` is true; returns their addresses.
  template <class Pred>
  std::vector<Ipv4> release_if(Pred&& drop) {
    std::vector<Ipv4> out;
    for (auto it = leases_.begin(); it != leases_.end();) {
      if (drop(it->second)) {
        out.push_back(it->first);
        it = leases_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  std::optional<Ipv4> address_of(std::string_view container, std::string_view ifname = {}) const;
  const std::map<Ipv4, Lease>& leases() const { return leases_; }
  std::map<Ipv4, Lease>& leases() { return leases_; }
  const Cidr& subnet() const { return subnet_; }
  Ipv4 gateway() const { return gateway_; }
  // How many addresses can be handed out in all.
  uint64_t capacity() const;

 private:
  Cidr subnet_;
  Ipv4 gateway_;
  std::map<Ipv4, Lease> leases_;
};

void to_json(nlohmann::json& j, const Lease& l);
void from_json(const nlohmann::json& j, Lease& l);

}  // namespace nrun::net
