// Networks on disk: ROOT/networks/<name>.json holds a network's bridge,
// subnet and gateway; its address leases are one file per address,
// ROOT/networks/<name>.leases/<ip>, holding the lease (owner, names, ifname,
// mac), as CNI's host-local plugin keeps them. So an attach reads a small
// file and a directory's names and creates one file, and a detach reads and
// removes the files of its own addresses: the cost does not grow with the
// containers already on the network. Every change happens under the
// exclusive lock ROOT/networks/.lock, which also serialises the kernel work
// of attaching and detaching (bridge, veth, nft). The default network
// `bridge` is created on first use.
//
// An older nrun kept the leases inside the network's file ("allocations"):
// they are read from there, and the first change moves them into files.
#pragma once
#include "runtime/sys/ids.hpp"
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/ip.hpp"
#include "net/ipam.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/lock.hpp"

namespace nrun::net {

inline constexpr const char* kDefaultNetwork = "bridge";
inline constexpr unsigned kDefaultMtu = 1500;

// A network file that does not parse. list() skips such a network with a
// warning, so one bad file never blocks the others; remove_network()
// removes it.
struct CorruptNetwork : sys::Error {
  using sys::Error::Error;
};

struct NetworkConfig {
  std::string name;
  std::string id;      // 64 hex digits
  std::string bridge;  // the bridge's interface name
  Cidr subnet;
  Ipv4 gateway;
  bool internal = false;  // no masquerade, no route out
  unsigned mtu = kDefaultMtu;
  std::string created;  // RFC 3339
  std::string lab;      // the lab that made it (empty: none), for a destroy without the lab's record
  Ipam ipam;            // subnet/gateway copies plus the leases
  // Read from an old nrun's file, which held the leases itself: the next
  // change moves them into lease files. Not saved.
  bool leases_in_file = false;

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
  std::string lab;  // the lab making it, recorded in the network's file
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

  // With every lease read (one file each).
  std::optional<NetworkConfig> try_get(const std::string& name) const;
  NetworkConfig get(const std::string& name) const;  // UsageError for an unknown network
  std::vector<NetworkConfig> list() const;           // sorted by name
  // Writes the configuration and makes the lease files exactly n's leases
  // (the full write: creation, migration, tests). Attach and detach use
  // add_lease() and release() instead.
  void save(const NetworkConfig& n);
  // Removes the network's file and its leases; no error when gone.
  void remove(const std::string& name);

  // The cheap read for an attach: the configuration, and the taken
  // addresses from the lease directory's names only, their leases empty
  // (`Lease::container` ""), except `want`'s, which is read in full so that
  // a clash names its owner. Enough for Ipam::allocate and check_static.
  std::optional<NetworkConfig> try_get_addresses(const std::string& name, std::optional<Ipv4> want = {}) const;
  // Under lock(): records `lease` for `ip`, which must be free (EEXIST
  // otherwise). Moves an old file's leases into lease files first.
  void add_lease(const NetworkConfig& n, Ipv4 ip, const Lease& lease);
  // Under lock(): removes the leases of `container` on `network` at the
  // addresses `ips` (the container's recorded state), or, when `ips` is
  // empty (the state was lost), every lease it owns there, found by reading
  // them all. A lease file of another owner is never removed. Returns the
  // addresses released; none for an unknown network.
  std::vector<Ipv4> release(const std::string& network, const std::string& container,
                            const std::vector<Ipv4>& ips = {});
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path leases_dir(const std::string& name) const;

 private:
  std::filesystem::path path_of(const std::string& name) const;
  std::optional<NetworkConfig> try_get_config(const std::string& name) const;  // the file only
  std::vector<Ipv4> lease_addresses(const std::string& name) const;            // readdir, no reads
  std::optional<Lease> try_read_lease(const std::string& name, Ipv4 ip) const;
  void write_lease(const std::string& name, Ipv4 ip, const Lease& lease, bool exclusive);
  void migrate_if_needed(const NetworkConfig& n);
  std::filesystem::path root_;
  std::filesystem::path dir_;
};

inline std::string random_hex_id() { return sys::random_hex(32); }  // 64 hex digits
using sys::now_rfc3339;

}  // namespace nrun::net
