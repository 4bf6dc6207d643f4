#include "runtime/networking.hpp"

#include "net/nft.hpp"
#include "runtime/shared_namespaces.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

bool uses_networks(const ContainerSpec& spec) { return !net::is_special_net_mode(spec.net); }

std::vector<net::NetworkAttachment> attachments_of(const ContainerSpec& spec) {
  if (!uses_networks(spec)) return {};
  if (spec.networks.empty()) return {{spec.net, "", "", {}}};
  return spec.networks;
}

net::ContainerNetInfo net_info(const ContainerRecord& rec) {
  const ContainerSpec& s = rec.config;
  return {rec.id, s.name, s.hostname, attachments_of(s), s.ports, s.dns};
}

void attach_networks(StateStore& store, const ContainerRecord& rec, pid_t init_pid, ContainerState& state) {
  if (!uses_networks(rec.config)) return;
  const sys::Fd netns = net::open_netns_of(init_pid);
  net::NetworkStore networks(store.root());
  net::LibnlRtnl host;
  net::NftFirewall fw;
  net::NetEnv env{networks, host, fw, store.root() / "containers"};
  state.network = net::attach_container(env, net_info(rec), netns);
}

namespace {
constexpr const char* kIntentKey = "setting_up";

bool is_intent(const nlohmann::json& network) { return network.is_object() && network.value(kIntentKey, false); }
}  // namespace

nlohmann::json network_intent() { return {{kIntentKey, true}}; }

bool network_record_holds(const nlohmann::json& network) {
  return is_intent(network) || (network.is_object() && (!network.value("endpoints", nlohmann::json::array()).empty() ||
                                                        !network.value("ports", nlohmann::json::array()).empty()));
}

void release_orphaned_networking(StateStore& store) noexcept {
  try {
    net::NetworkStore networks(store.root());
    net::LibnlRtnl host;
    net::NftFirewall fw;
    net::NetEnv env{networks, host, fw, store.root() / "containers"};
    // A record directory, parsed or not: a corrupt one's leases are rm -f's.
    const size_t n = net::release_orphans(env, [&](const std::string& id) { return fs::exists(store.dir(id)); });
    if (n) log::info("released " + std::to_string(n) + " leases and published ports of containers that are gone");
  } catch (const std::exception& e) {
    log::warn("release the leases and ports of removed containers: " + sys::describe(e) + ", ignoring");
  }
}

void detach_networks(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept {
  // An object (even empty) is a record of what is held; null with networks
  // in the spec means the record was lost (a monitor killed mid-setup).
  if (state.network.is_object() && !network_record_holds(state.network)) return;
  if (state.network.is_null() && !uses_networks(rec.config)) return;
  net::ErrorList errs;
  errs.capture("detach container " + rec.short_id() + " from its networks", [&] {
    std::optional<net::NetState> recorded;  // none when lost, or an intent: found by the id
    if (state.network.is_object() && !is_intent(state.network)) recorded = state.network.get<net::NetState>();
    net::NetworkStore networks(store.root());
    net::LibnlRtnl host;
    net::NftFirewall fw;
    net::NetEnv env{networks, host, fw, store.root() / "containers"};
    // Once init has exited, its namespace and the veth peers in it are
    // going away on their own, unless another container is in it.
    const bool netns_alive = is_alive(state) || net_namespace_may_be_shared(store, rec.id);
    net::detach_container(env, rec.id, recorded, errs, netns_alive);
  });
  for (const auto& e : errs.errors()) log::warn(e + ", ignoring");
  if (errs.empty()) state.network = nlohmann::json::object();
}

std::vector<VolumeSpec> network_file_mounts(const StateStore& store, const ContainerRecord& rec) {
  std::vector<VolumeSpec> out;
  if (!uses_networks(rec.config)) return out;
  for (const auto& [host, target] : net::container_files(store.dir(rec.id))) out.push_back({host.string(), target, false});
  return out;
}

}  // namespace nrun::runtime
