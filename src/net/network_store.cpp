#include "net/network_store.hpp"

#include "runtime/sys/lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <memory>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::net {
namespace fs = std::filesystem;
using nlohmann::json;
using sys::UsageError;

namespace {
constexpr size_t kMaxNameLen = 15;  // IFNAMSIZ - 1: the name is the bridge's
constexpr const char* kDefaultBridgePrefix = "nrun";

void remove_lease_file(const fs::path& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return;
  const int e = errno;
  throw sys::SysError(e, "remove lease '" + path.string() + "'");
}
}  // namespace

// The configuration only: the leases are files of their own.
void to_json(json& j, const NetworkConfig& n) {
  j = {{"name", n.name},         {"id", n.id},
       {"driver", "bridge"},     {"bridge", n.bridge},
       {"subnet", n.subnet.str()}, {"gateway", n.gateway.str()},
       {"internal", n.internal}, {"mtu", n.mtu},
       {"created", n.created}};
  if (!n.lab.empty()) j["lab"] = n.lab;
}

void from_json(const json& j, NetworkConfig& n) {
  j.at("name").get_to(n.name);
  j.at("id").get_to(n.id);
  j.at("bridge").get_to(n.bridge);
  n.subnet = parse_cidr(j.at("subnet").get<std::string>());
  n.gateway = parse_ipv4(j.at("gateway").get<std::string>());
  n.internal = j.value("internal", false);
  n.mtu = j.value("mtu", kDefaultMtu);
  n.created = j.value("created", "");
  n.lab = j.value("lab", "");
  n.ipam = Ipam(n.subnet, n.gateway);
  // An old nrun's file, with the leases inside.
  n.leases_in_file = j.contains("allocations") && !j.at("allocations").empty();
  if (n.leases_in_file)
    for (const auto& [ip, lease] : j.at("allocations").items())
      n.ipam.leases()[parse_ipv4(ip)] = lease.get<Lease>();
}

bool is_valid_network_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLen || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void check_new_network_name(const std::string& name) {
  if (name == "none" || name == "host" || name == kDefaultNetwork)
    throw UsageError("'" + name + "' is a predefined network mode and cannot be created");
  if (name.size() > kMaxNameLen)
    throw UsageError("network name '" + name + "' is too long: at most " + std::to_string(kMaxNameLen) +
                     " characters, since it names the bridge");
  if (!is_valid_network_name(name))
    throw UsageError("invalid network name '" + name + "': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
}

std::vector<Cidr> default_network_candidates() {
  std::vector<Cidr> out{{Ipv4{(10u << 24) | (88u << 16)}, 16}};
  for (uint32_t b = 17; b <= 31; ++b) out.push_back({Ipv4{(172u << 24) | (b << 16)}, 16});
  // Then the upper half of 10/8 (user networks take 10.89-10.99).
  for (uint32_t b = 100; b <= 255; ++b) out.push_back({Ipv4{(10u << 24) | (b << 16)}, 16});
  return out;
}

std::vector<Cidr> user_network_candidates() {
  std::vector<Cidr> out;
  for (uint32_t b = 89; b <= 99; ++b)
    for (uint32_t c = 0; c <= 255; ++c) out.push_back({Ipv4{(10u << 24) | (b << 16) | (c << 8)}, 24});
  return out;
}

std::optional<Cidr> pick_subnet(const std::vector<Cidr>& candidates, const std::vector<Cidr>& taken) {
  for (const auto& c : candidates)
    if (std::none_of(taken.begin(), taken.end(), [&](const Cidr& t) { return overlaps(c, t); })) return c;
  return std::nullopt;
}

NetworkConfig plan_network(const NewNetwork& req, const std::vector<NetworkConfig>& existing,
                           const std::vector<Cidr>& host_routes, const std::vector<std::string>& link_names,
                           const std::string& id, const std::string& created) {
  const bool is_default = req.name == kDefaultNetwork;
  if (!is_default) check_new_network_name(req.name);
  for (const auto& n : existing)
    if (n.name == req.name) throw UsageError("network '" + req.name + "' already exists");
  if (req.mtu < 68 || req.mtu > 65535) throw UsageError("invalid MTU " + std::to_string(req.mtu) + ": 68-65535");

  auto link_taken = [&](const std::string& n) {
    return std::find(link_names.begin(), link_names.end(), n) != link_names.end() ||
           std::any_of(existing.begin(), existing.end(), [&](const NetworkConfig& e) { return e.bridge == n; });
  };
  NetworkConfig n;
  n.name = req.name;
  n.id = id;
  n.internal = req.internal;
  n.mtu = req.mtu;
  n.created = created;
  n.lab = req.lab;
  if (is_default) {
    for (int i = 0; n.bridge.empty(); ++i) {
      const std::string candidate = kDefaultBridgePrefix + std::to_string(i);
      if (!link_taken(candidate)) n.bridge = candidate;
    }
  } else {
    if (link_taken(req.name))
      throw UsageError("cannot create network '" + req.name + "': a network interface of that name already exists");
    n.bridge = req.name;
  }

  if (req.subnet) {
    const Cidr s = *req.subnet;
    if (!s.is_network()) throw UsageError("invalid subnet '" + s.str() + "': host bits are set");
    if (s.prefix > 30 || s.prefix < 8)
      throw UsageError("invalid subnet '" + s.str() + "': the prefix length must be between /8 and /30");
    if (const auto reserved = reserved_block_of(s))
      throw UsageError("invalid subnet '" + s.str() + "': it overlaps the " + *reserved +
                       " block, which is not unicast address space a network can use");
    for (const auto& e : existing)
      if (overlaps(s, e.subnet))
        throw UsageError("subnet " + s.str() + " overlaps network '" + e.name + "' (" + e.subnet.str() + ")");
    for (const auto& r : host_routes)
      if (overlaps(s, r))
        throw UsageError("subnet " + s.str() + " overlaps the host's route to " + Cidr{r.network(), r.prefix}.str());
    n.subnet = s;
  } else {
    std::vector<Cidr> taken = host_routes;
    for (const auto& e : existing) taken.push_back(e.subnet);
    const auto picked = pick_subnet(is_default ? default_network_candidates() : user_network_candidates(), taken);
    if (!picked)
      throw UsageError("no free subnet left for network '" + req.name + "': give one with --subnet");
    n.subnet = *picked;
  }

  if (req.gateway) {
    const Ipv4 gw = *req.gateway;
    if (!n.subnet.contains(gw))
      throw UsageError("gateway " + gw.str() + " is outside the subnet " + n.subnet.str());
    if (gw == n.subnet.network() || gw == n.subnet.broadcast())
      throw UsageError("gateway " + gw.str() + " is the network or broadcast address of " + n.subnet.str());
    n.gateway = gw;
  } else {
    n.gateway = Ipv4{n.subnet.network().value + 1};
  }
  n.ipam = Ipam(n.subnet, n.gateway);
  return n;
}

NetworkStore::NetworkStore(fs::path root) : root_(std::move(root)), dir_(root_ / "networks") {}

sys::FileLock NetworkStore::lock() const {
  fs::create_directories(dir_);
  return sys::FileLock((dir_ / ".lock").string(), sys::FileLock::Mode::exclusive);
}

fs::path NetworkStore::path_of(const std::string& name) const { return dir_ / (name + ".json"); }

fs::path NetworkStore::leases_dir(const std::string& name) const { return dir_ / (name + ".leases"); }

std::optional<NetworkConfig> NetworkStore::try_get_config(const std::string& name) const {
  if (name != kDefaultNetwork && !is_valid_network_name(name)) return std::nullopt;
  const auto text = sys::try_read_file(path_of(name).string());
  if (!text) return std::nullopt;
  try {
    return json::parse(*text).get<NetworkConfig>();
  } catch (const json::exception& e) {
    throw CorruptNetwork("corrupt network file '" + path_of(name).string() + "': " + e.what());
  } catch (const UsageError& e) {
    throw CorruptNetwork("corrupt network file '" + path_of(name).string() + "': " + e.what());
  }
}

std::vector<Ipv4> NetworkStore::lease_addresses(const std::string& name) const {
  // Names only: readdir, no file read, no path object per entry. A name
  // that is not an address (a temporary file of save()) is no lease.
  const fs::path dir = leases_dir(name);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    const int e = errno;
    if (e == ENOENT) return {};
    throw sys::SysError(e, "list the leases in '" + dir.string() + "'");
  }
  std::vector<Ipv4> out;
  while (const dirent* de = ::readdir(d.get()))
    if (auto ip = try_parse_ipv4(de->d_name)) out.push_back(*ip);
  return out;
}

std::optional<Lease> NetworkStore::try_read_lease(const std::string& name, Ipv4 ip) const {
  const auto text = sys::try_read_file((leases_dir(name) / ip.str()).string());
  if (!text) return std::nullopt;
  try {
    return json::parse(*text).get<Lease>();
  } catch (const json::exception&) {
    // Torn by a crash (lease files are not fsync'd): the address stays
    // taken, by no container, until the network's stale leases are dropped
    // (network rm drops leases whose container is gone).
    return Lease{};
  }
}

void NetworkStore::write_lease(const std::string& name, Ipv4 ip, const Lease& lease, bool exclusive) {
  const fs::path dir = leases_dir(name);
  fs::create_directories(dir);
  const std::string path = (dir / ip.str()).string();
  // Not fsync'd: a lease describes a running container, and after a crash
  // every container is gone, so losing the last change costs nothing, while
  // an fsync per container would cost more than all of its netlink work
  // (measured: ~5 ms each on this host's ext4). O_EXCL: an address is
  // leased once, whatever the caller believed.
  const int flags = O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC);
  sys::Fd fd = sys::open_path(path, flags, 0644);
  sys::write_all(fd.get(), json(lease).dump() + "\n");
}

void NetworkStore::migrate_if_needed(const NetworkConfig& n) {
  if (!n.leases_in_file) return;
  // The old file's leases, plus any lease file a migration cut short made.
  save(get(n.name));
}

std::optional<NetworkConfig> NetworkStore::try_get_addresses(const std::string& name, std::optional<Ipv4> want) const {
  auto n = try_get_config(name);
  if (!n) return n;
  for (const Ipv4 ip : lease_addresses(name)) n->ipam.leases().try_emplace(ip);
  if (want && n->ipam.leases().count(*want))
    if (auto l = try_read_lease(name, *want)) n->ipam.leases()[*want] = std::move(*l);
  return n;
}

void NetworkStore::add_lease(const NetworkConfig& n, Ipv4 ip, const Lease& lease) {
  migrate_if_needed(n);
  try {
    write_lease(n.name, ip, lease, true);
  } catch (const sys::SysError& e) {
    if (e.code().value() != EEXIST) throw;
    throw sys::Error("address " + ip.str() + " in network '" + n.name + "' is already leased");
  }
}

std::vector<Ipv4> NetworkStore::release(const std::string& network, const std::string& container,
                                        const std::vector<Ipv4>& ips) {
  const auto n = try_get_config(network);
  if (!n) return {};
  migrate_if_needed(*n);
  std::vector<Ipv4> out;
  for (const Ipv4 ip : ips.empty() ? lease_addresses(network) : ips) {
    const auto l = try_read_lease(network, ip);
    if (!l || l->container != container) continue;  // gone, or another's
    remove_lease_file(leases_dir(network) / ip.str());
    out.push_back(ip);
  }
  return out;
}

std::optional<NetworkConfig> NetworkStore::try_get(const std::string& name) const {
  auto n = try_get_config(name);
  if (!n) return n;
  // Lease files win over an old file's leases: they are newer (a
  // migration cut short wrote them before rewriting the network's file).
  for (const Ipv4 ip : lease_addresses(name))
    if (auto l = try_read_lease(name, ip)) n->ipam.leases()[ip] = std::move(*l);
  return n;
}

NetworkConfig NetworkStore::get(const std::string& name) const {
  if (auto n = try_get(name)) return *n;
  throw UsageError("no such network: '" + name + "'");
}

std::vector<NetworkConfig> NetworkStore::list() const {
  std::vector<NetworkConfig> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.size() <= 5 || file[0] == '.' || file.compare(file.size() - 5, 5, ".json") != 0) continue;
    try {
      if (auto n = try_get(file.substr(0, file.size() - 5))) out.push_back(std::move(*n));
    } catch (const CorruptNetwork& e) {
      log::warn(std::string(e.what()) + ", ignoring (nrun network rm removes it)");
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void NetworkStore::save(const NetworkConfig& n) {
  fs::create_directories(dir_);
  // The lease files first, then the file without leases: a migration cut
  // short leaves both, and try_get() reads them together.
  const auto on_disk = lease_addresses(n.name);
  for (const auto& [ip, lease] : n.ipam.leases()) write_lease(n.name, ip, lease, false);
  for (const Ipv4 ip : on_disk)
    if (!n.ipam.leases().count(ip)) remove_lease_file(leases_dir(n.name) / ip.str());
  // Atomic (temp file, rename) but not fsync'd, as the leases (see
  // write_lease()).
  sys::write_file_atomic(path_of(n.name).string(), json(n).dump(2) + "\n", 0644, sys::Durability::none);
}

void NetworkStore::remove(const std::string& name) {
  // The leases first: a network file left behind still lists as the
  // network, while leases left behind would go to a new network of the name.
  std::error_code ec;
  fs::remove_all(leases_dir(name), ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw sys::SysError(ec.value(), "remove the leases in '" + leases_dir(name).string() + "'");
  fs::remove(path_of(name), ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw sys::SysError(ec.value(), "remove network file '" + path_of(name).string() + "'");
}

}  // namespace nrun::net
