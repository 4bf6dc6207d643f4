#include "net/options.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "net/ip.hpp"
#include "net/network_store.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::net {
using sys::UsageError;

namespace {
uint16_t parse_port(std::string_view s, const std::string& arg) {
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    throw UsageError("invalid port '" + std::string(s) + "' in '" + arg + "'");
  if (v < 1 || v > 65535) throw UsageError("invalid port " + std::string(s) + " in '" + arg + "': must be 1-65535");
  return static_cast<uint16_t>(v);
}

struct Range {
  uint16_t first = 0, last = 0;
  size_t count() const { return size_t{last} - first + 1; }
};

Range parse_range(std::string_view s, const std::string& arg) {
  const size_t dash = s.find('-');
  Range r;
  r.first = parse_port(s.substr(0, dash), arg);
  r.last = dash == std::string_view::npos ? r.first : parse_port(s.substr(dash + 1), arg);
  if (r.last < r.first) throw UsageError("invalid port range '" + std::string(s) + "' in '" + arg + "'");
  return r;
}

std::string split_proto(std::string& s, const std::string& arg) {
  const size_t slash = s.rfind('/');
  if (slash == std::string::npos) return "tcp";
  std::string proto = s.substr(slash + 1);
  s.resize(slash);
  if (proto != "tcp" && proto != "udp")
    throw UsageError("invalid protocol '" + proto + "' in '" + arg + "': tcp or udp");
  return proto;
}

bool is_valid_alias(const std::string& a) {
  if (a.empty() || a.size() > 253 || a.front() == '-' || a.front() == '.') return false;
  return std::all_of(a.begin(), a.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}
}  // namespace

std::string PortSpec::str() const {
  std::string s;
  if (!host_ip.empty()) s += host_ip + ":";
  if (host_port) {
    s += std::to_string(host_port);
    if (host_port_end > host_port) s += "-" + std::to_string(host_port_end);
    s += ":";
  } else if (!host_ip.empty()) {
    s += ":";
  }
  return s + std::to_string(container_port) + "/" + proto;
}

std::vector<PortSpec> parse_publish(const std::string& arg) {
  std::string s = arg;
  const std::string proto = split_proto(s, arg);
  // Split on ':' into 1 to 3 fields: [ip:][hostport:]cport ("ip::cport" too).
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    const size_t colon = s.find(':', start);
    f.push_back(s.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (f.size() > 3 || f.back().empty())
    throw UsageError("invalid port mapping '" + arg + "': expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]");
  std::string ip, host;
  if (f.size() == 3) {
    ip = f[0];
    host = f[1];
  } else if (f.size() == 2) {
    host = f[0];
  }
  if (f.size() == 3) {
    const auto addr = try_parse_ipv4(ip);
    if (!addr) throw UsageError("invalid host address '" + ip + "' in '" + arg + "': expected an IPv4 address");
    ip = addr->value == 0 ? "" : addr->str();  // 0.0.0.0 means every address
  }
  if (f.size() == 2 && host.empty())
    throw UsageError("invalid port mapping '" + arg + "': empty host port");
  const Range c = parse_range(f.back(), arg);
  std::vector<PortSpec> out;
  if (host.empty()) {
    for (uint32_t p = c.first; p <= c.last; ++p) out.push_back({ip, 0, 0, static_cast<uint16_t>(p), proto});
  } else {
    const Range h = parse_range(host, arg);
    if (c.count() == 1 && h.count() > 1) {
      out.push_back({ip, h.first, h.last, c.first, proto});
    } else if (h.count() != c.count()) {
      throw UsageError("invalid port mapping '" + arg + "': the host and container ranges differ in length");
    } else {
      for (size_t i = 0; i < c.count(); ++i)
        out.push_back({ip, static_cast<uint16_t>(h.first + i), 0, static_cast<uint16_t>(c.first + i), proto});
    }
  }
  if (out.size() > kMaxPublishedPorts)
    throw UsageError("invalid port mapping '" + arg + "': more than " + std::to_string(kMaxPublishedPorts) + " ports");
  return out;
}

std::vector<PortSpec> parse_expose(const std::string& arg) {
  std::string s = arg;
  const std::string proto = split_proto(s, arg);
  const Range r = parse_range(s, arg);
  std::vector<PortSpec> out;
  for (uint32_t p = r.first; p <= r.last; ++p) out.push_back({"", 0, 0, static_cast<uint16_t>(p), proto});
  return out;
}

bool is_special_net_mode(const std::string& mode) {
  return mode == "none" || mode == "host" || mode.rfind("container:", 0) == 0;
}

void validate_network_options(const std::string& mode, const std::vector<NetworkAttachment>& networks,
                              const std::vector<PortSpec>& ports, const std::vector<std::string>& dns) {
  if (is_special_net_mode(mode)) {
    if (!networks.empty())
      throw UsageError("network mode '" + mode + "' cannot be combined with other networks");
    if (!ports.empty()) throw UsageError("published ports need a bridge network, not --net " + mode);
    if (!dns.empty() && mode != "none") throw UsageError("--dns cannot be used with --net " + mode);
    return;
  }
  if (networks.empty()) throw UsageError("no network given");
  if (networks.size() > kMaxNetworksPerContainer)
    throw UsageError("too many networks: at most " + std::to_string(kMaxNetworksPerContainer));
  std::set<std::string> seen;
  for (const auto& a : networks) {
    if (is_special_net_mode(a.network))
      throw UsageError("network mode '" + a.network + "' cannot be combined with other networks");
    if (a.network != kDefaultNetwork && !is_valid_network_name(a.network))
      throw UsageError("invalid network name '" + a.network + "'");
    if (!seen.insert(a.network).second) throw UsageError("network '" + a.network + "' given twice");
    if (!a.ip.empty()) parse_ipv4(a.ip, "--ip");
    if (!a.mac.empty()) parse_mac(a.mac);
    for (const auto& alias : a.aliases)
      if (!is_valid_alias(alias)) throw UsageError("invalid network alias '" + alias + "'");
  }
  std::set<std::tuple<std::string, std::string, uint16_t>> host_ports;
  for (const auto& p : ports) {
    if (p.container_port == 0) throw UsageError("invalid published port: container port 0");
    if (p.proto != "tcp" && p.proto != "udp") throw UsageError("invalid protocol '" + p.proto + "': tcp or udp");
    if (!p.host_ip.empty()) parse_ipv4(p.host_ip, "host address");
    if (p.host_port && p.host_port_end == 0 && !host_ports.insert({p.host_ip, p.proto, p.host_port}).second)
      throw UsageError("host port " + std::to_string(p.host_port) + "/" + p.proto + " is published twice");
  }
  for (const auto& d : dns) parse_ipv4(d, "--dns address");
}

void to_json(nlohmann::json& j, const PortSpec& p) {
  j = {{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"host_port_end", p.host_port_end},
       {"container_port", p.container_port}, {"proto", p.proto}};
}
void from_json(const nlohmann::json& j, PortSpec& p) {
  p.host_ip = j.value("host_ip", "");
  p.host_port = j.value("host_port", uint16_t{0});
  p.host_port_end = j.value("host_port_end", uint16_t{0});
  p.container_port = j.value("container_port", uint16_t{0});
  p.proto = j.value("proto", "tcp");
}
void to_json(nlohmann::json& j, const NetworkAttachment& a) {
  j = {{"network", a.network}, {"ip", a.ip}, {"mac", a.mac}, {"aliases", a.aliases}};
}
void from_json(const nlohmann::json& j, NetworkAttachment& a) {
  j.at("network").get_to(a.network);
  a.ip = j.value("ip", "");
  a.mac = j.value("mac", "");
  a.aliases = j.value("aliases", std::vector<std::string>{});
}

}  // namespace nrun::net
