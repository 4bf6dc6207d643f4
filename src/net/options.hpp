// A container's network options as the user gives them (part of the
// container's spec), their parsing and their validation. Pure.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nrun::net {

// -p [HOSTIP:][HOSTPORT[-END]:]CONTAINERPORT[/tcp|udp]
struct PortSpec {
  std::string host_ip;           // "" = every local address
  uint16_t host_port = 0;        // 0 = any free port, picked at start
  uint16_t host_port_end = 0;    // > host_port: any free port in [host_port, host_port_end]
  uint16_t container_port = 0;
  std::string proto = "tcp";
  bool operator==(const PortSpec&) const = default;
  std::string str() const;       // as -p would take it
};

// One network a container joins: --net NAME [--ip] [--mac-address] [--network-alias].
struct NetworkAttachment {
  std::string network;
  std::string ip;                     // static address, or "" for IPAM's pick
  std::string mac;                    // "" = derived from the address
  std::vector<std::string> aliases;   // extra names in peers' /etc/hosts
  bool operator==(const NetworkAttachment&) const = default;
};

// Parses one -p value; a range maps host ports to container ports one to
// one (8000-8001:80-81), or picks one free host port for a single
// container port (8000-8010:80). Throws UsageError.
std::vector<PortSpec> parse_publish(const std::string& arg);
// --expose PORT[-END][/proto]: container ports -P publishes on free host ports.
std::vector<PortSpec> parse_expose(const std::string& arg);

// Network modes that are not networks: none, host, container:<ref>.
bool is_special_net_mode(const std::string& mode);

// Throws UsageError for the first problem: a bad network name, address, MAC
// or alias, two attachments to one network, ports without a network.
void validate_network_options(const std::string& mode, const std::vector<NetworkAttachment>& networks,
                              const std::vector<PortSpec>& ports, const std::vector<std::string>& dns);

void to_json(nlohmann::json& j, const PortSpec& p);
void from_json(const nlohmann::json& j, PortSpec& p);
void to_json(nlohmann::json& j, const NetworkAttachment& a);
void from_json(const nlohmann::json& j, NetworkAttachment& a);

inline constexpr size_t kMaxNetworksPerContainer = 16;
inline constexpr size_t kMaxPublishedPorts = 1024;

}  // namespace nrun::net
