#include "cli/network_flags.hpp"

#include "net/network.hpp"
#include "net/nft.hpp"
#include "runtime/networking.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {

void add_network_flags(CLI::App* cmd, NetworkFlags& f) {
  cmd->add_option("--net,--network", f.nets,
                  "Network: bridge (default), a network's name, none, host or container:NAME; repeat to join several")
      ->allow_extra_args(false);
  cmd->add_option("--ip", f.ip, "IPv4 address on the first network (user networks only)");
  cmd->add_option("--mac-address", f.mac, "MAC address on the first network");
  cmd->add_option("--network-alias", f.aliases, "Another name peers resolve to this container (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-p,--publish", f.publish, "Publish [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp] (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("-P,--publish-all", f.publish_all, "Publish every --expose'd port on a free host port");
  cmd->add_option("--expose", f.expose, "Container port[-range][/proto] that -P publishes (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--dns", f.dns, "DNS server for /etc/resolv.conf (repeatable; default: the host's)")
      ->allow_extra_args(false);
}

void apply_network_flags(const NetworkFlags& f, runtime::ContainerSpec& spec) {
  std::vector<std::string> nets = f.nets;
  if (nets.empty()) nets.push_back(net::kDefaultNetwork);
  spec.net = nets[0];
  spec.networks.clear();
  const bool special = net::is_special_net_mode(spec.net);
  if (special && (!f.ip.empty() || !f.mac.empty() || !f.aliases.empty()))
    throw sys::UsageError("--ip, --mac-address and --network-alias need a network, not --net " + spec.net);
  for (size_t i = special ? 1 : 0; i < nets.size(); ++i) {
    net::NetworkAttachment a;
    a.network = nets[i];
    if (i == 0) {
      a.ip = f.ip;
      a.mac = f.mac;
    }
    a.aliases = f.aliases;
    spec.networks.push_back(std::move(a));
  }
  spec.ports.clear();
  for (const auto& p : f.publish)
    for (auto& port : net::parse_publish(p)) spec.ports.push_back(std::move(port));
  if (f.publish_all)
    for (const auto& e : f.expose)
      for (auto& port : net::parse_expose(e)) spec.ports.push_back(std::move(port));
  if (spec.ports.size() > net::kMaxPublishedPorts)
    throw sys::UsageError("too many published ports: at most " + std::to_string(net::kMaxPublishedPorts));
  spec.dns = f.dns;
}

void check_network_flags(const runtime::ContainerSpec& spec, const std::filesystem::path& root) {
  if (!runtime::uses_networks(spec)) return;
  net::NetworkStore networks(root);
  net::LibnlRtnl host;
  net::NftFirewall fw;
  net::NetEnv env{networks, host, fw, root / "containers"};
  net::ContainerNetInfo info{"", spec.name, spec.hostname, runtime::attachments_of(spec), spec.ports, spec.dns};
  net::check_container_options(env, info);
}

}  // namespace nrun::cli
