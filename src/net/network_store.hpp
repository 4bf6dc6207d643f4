// Networks on disk: ROOT/networks/<name>.json holds a network's bridge,
// subnet, gateway and address leases. Every change happens under the
// exclusive lock ROOT/networks/.lock, which also serialises the kernel work
// of attaching and detaching (bridge, veth, nft), and every file is written
// atomically. The default network `bridge` is created on first use.
#pragma once
#include "runtime/sys/ids.hpp"
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/ip.hpp"
#include "net/ipam.hpp"
#include "runtime/sys/lock.hpp"

namespace nrun::net {

inline constexpr const char* kDefaultNetwork = "bridge";
inline constexpr unsigned kDefaultMtu = 1500;

struct NetworkConfig {
  std::string name;
  std::string id;      // 64 hex digits
  std::string bridge;  // the bridge's interface name
  Cidr subnet;
  Ipv4 gateway;
  bool internal = false;  // no masquerade, no route out
  unsigned mtu = kDefaultMtu;
  std::string created;  // RFC 3339
  Ipam ipam;            // subnet/gateway copies plus the leases

  std::string short_id() const { return id.substr(0, 12); }
  bool is_default() const { return name == kDefaultNetwork; }
};

void to_json(nlohmann::json& j, const NetworkConfig& n);
void from_json(const nlohmann::json& j, NetworkConfig& n);

// Network names become bridge names: [a-zA-Z0-9][a-zA-Z0-9_.-], at most 15
// characters (IFNAMSIZ - 1).
bool is_valid_network_name(const std::string& name);
// Throws UsageError explaining why `name` cannot name a new network.
void check_new_network_name(const std::string& name);

// Candidate subnets in the order they are tried: the default network
// (10.88.0.0/16, then 172.17-31.0.0/16, then 10.100-255.0.0/16) and user
// networks (10.89.0.0/24 ... 10.99.255.0/24).
std::vector<Cidr> default_network_candidates();
std::vector<Cidr> user_network_candidates();
// The first candidate that overlaps nothing in `taken`.
std::optional<Cidr> pick_subnet(const std::vector<Cidr>& candidates, const std::vector<Cidr>& taken);

struct NewNetwork {
  std::string name;
  std::optional<Cidr> subnet;    // picked when empty
  std::optional<Ipv4> gateway;   // first host address when empty
  bool internal = false;
  unsigned mtu = kDefaultMtu;
};

// Pure: the configuration of a new network, checked against the networks
// nrun has, the routes the host has and the links that exist. Throws
// UsageError for every bad input (overlap, gateway outside, name taken).
NetworkConfig plan_network(const NewNetwork& req, const std::vector<NetworkConfig>& existing,
                           const std::vector<Cidr>& host_routes, const std::vector<std::string>& link_names,
                           const std::string& id, const std::string& created);

class NetworkStore {
 public:
  explicit NetworkStore(std::filesystem::path root);  // nrun's root

  // Held around every change to networks and their kernel objects.
  sys::FileLock lock() const;

  std::optional<NetworkConfig> try_get(const std::string& name) const;
  NetworkConfig get(const std::string& name) const;  // UsageError for an unknown network
  std::vector<NetworkConfig> list() const;           // sorted by name
  void save(const NetworkConfig& n);                 // atomic
  void remove(const std::string& name);              // no error when gone
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path path_of(const std::string& name) const;
  std::filesystem::path root_;
  std::filesystem::path dir_;
};

inline std::string random_hex_id() { return sys::random_hex(32); }  // 64 hex digits
using sys::now_rfc3339;

}  // namespace nrun::net
