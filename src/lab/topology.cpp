#include "lab/topology.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "lab/json_lines.hpp"
#include "net/network_store.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/image_store.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/user.hpp"

namespace nrun::lab {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps the file's order: nodes start as written
using sys::UsageError;

bool is_valid_lab_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxLabNameLen || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool is_valid_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0';
  });
}

std::vector<std::string> split_command(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) throw UsageError(std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote");
  if (in_word) words.push_back(std::move(word));
  return words;
}

const LabNode* Topology::find_node(const std::string& n) const {
  for (const auto& x : nodes)
    if (x.name == n) return &x;
  return nullptr;
}

const LabNetwork* Topology::find_network(const std::string& n) const {
  for (const auto& x : networks)
    if (x.name == n) return &x;
  return nullptr;
}

namespace {

std::string type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

class Parser {
 public:
  Parser(std::string_view text, std::string source, fs::path base_dir)
      : text_(text), source_(std::move(source)), base_dir_(std::move(base_dir)), lines_(text) {}

  Topology parse() {
    Json doc;
    try {
      doc = Json::parse(text_);
    } catch (const Json::parse_error& e) {
      std::string what = e.what();
      if (const auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
        what = what.substr(p + 2);
      throw UsageError(source_ + ": invalid JSON: " + what);
    }
    if (!lines_.duplicates().empty()) fail(lines_.duplicates()[0], "given twice");
    const Json& root = object(doc, "");
    only_keys(root, "", {"name", "description", "networks", "nodes", "links"});
    Topology t;
    t.name = required_string(root, "", "name");
    if (!is_valid_lab_name(t.name))
      fail("name", "invalid lab name '" + t.name + "': 1-" + std::to_string(kMaxLabNameLen) +
                       " characters of [a-zA-Z0-9_.-], starting with a letter or digit");
    if (root.contains("networks"))
      for (const auto& [name, j] : object(root["networks"], "networks").items())
        t.networks.push_back(network(name, j, path_key("networks", name)));
    check_subnets(t);
    if (!root.contains("nodes")) fail("", "missing key 'nodes'");
    for (const auto& [name, j] : object(root["nodes"], "nodes").items())
      t.nodes.push_back(node(t, name, j, path_key("nodes", name)));
    if (t.nodes.empty()) fail("nodes", "a lab needs at least one node");
    if (root.contains("links")) {
      const Json& links = array(root["links"], "links");
      for (size_t i = 0; i < links.size(); ++i) t.links.push_back(link(t, links[i], path_index("links", i)));
    }
    check_interfaces(t);
    check_addresses(t);
    return t;
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& msg) const {
    const int line = lines_.line_of(path);
    std::string where = source_;
    if (line > 0) where += ":" + std::to_string(line);
    throw UsageError(where + ": " + (path.empty() ? "" : path + ": ") + msg);
  }

  // Runs `f`; a UsageError from the shared parsers gets the path in front.
  template <class F>
  auto at(const std::string& path, F&& f) const {
    try {
      return f();
    } catch (const UsageError& e) {
      fail(path, e.what());
    }
  }

  const Json& object(const Json& j, const std::string& path) const {
    if (!j.is_object()) fail(path, "expected an object, not " + type_name(j));
    return j;
  }
  const Json& array(const Json& j, const std::string& path) const {
    if (!j.is_array()) fail(path, "expected an array, not " + type_name(j));
    return j;
  }
  std::string string(const Json& j, const std::string& path) const {
    if (!j.is_string()) fail(path, "expected a string, not " + type_name(j));
    return j.get<std::string>();
  }
  // A string, or a number written without quotes (sysctl values, limits).
  std::string scalar(const Json& j, const std::string& path) const {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number()) return j.dump();
    fail(path, "expected a string or a number, not " + type_name(j));
  }
  bool boolean(const Json& j, const std::string& path) const {
    if (!j.is_boolean()) fail(path, "expected true or false, not " + type_name(j));
    return j.get<bool>();
  }
  unsigned mtu(const Json& j, const std::string& path) const {
    if (!j.is_number_unsigned() || j.get<uint64_t>() < 68 || j.get<uint64_t>() > 65535)
      fail(path, "expected an MTU from 68 to 65535");
    return j.get<unsigned>();
  }
  std::string required_string(const Json& obj, const std::string& path, const char* key) const {
    if (!obj.contains(key)) fail(path, std::string("missing key '") + key + "'");
    return string(obj[key], path_key(path, key));
  }
  std::vector<std::string> strings(const Json& j, const std::string& path) const {
    std::vector<std::string> out;
    const Json& a = array(j, path);
    for (size_t i = 0; i < a.size(); ++i) out.push_back(string(a[i], path_index(path, i)));
    return out;
  }
  void only_keys(const Json& obj, const std::string& path, std::initializer_list<const char*> keys) const {
    for (const auto& [key, v] : obj.items()) {
      if (std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; })) continue;
      std::string known;
      for (const char* k : keys) known += (known.empty() ? "" : ", ") + std::string(k);
      fail(path_key(path, key), "unknown key '" + key + "' (known here: " + known + ")");
    }
  }

  LabNetwork network(const std::string& name, const Json& j, const std::string& path) const {
    if (name.size() > kMaxNetworkKeyLen || !is_valid_lab_name(name))
      fail(path, "invalid network name '" + name + "': 1-" + std::to_string(kMaxNetworkKeyLen) +
                     " characters of [a-zA-Z0-9_.-]");
    object(j, path);
    only_keys(j, path, {"subnet", "gateway", "internal", "mtu", "description"});
    LabNetwork n;
    n.name = name;
    const std::string subnet = required_string(j, path, "subnet");
    n.subnet = at(path_key(path, "subnet"), [&] { return net::parse_cidr(subnet, true, "subnet"); });
    if (n.subnet.prefix < 8 || n.subnet.prefix > 30)
      fail(path_key(path, "subnet"), "the prefix length of " + subnet + " must be between /8 and /30");
    if (j.contains("gateway")) {
      const std::string p = path_key(path, "gateway");
      const net::Ipv4 gw = at(p, [&] { return net::parse_ipv4(string(j["gateway"], p), "gateway"); });
      if (!n.subnet.contains(gw)) fail(p, "gateway " + gw.str() + " is outside the subnet " + subnet);
      if (gw == n.subnet.network() || gw == n.subnet.broadcast())
        fail(p, "gateway " + gw.str() + " is the network or broadcast address of " + subnet);
      n.gateway = gw;
    }
    if (j.contains("internal")) n.internal = boolean(j["internal"], path_key(path, "internal"));
    if (j.contains("mtu")) n.mtu = mtu(j["mtu"], path_key(path, "mtu"));
    return n;
  }

  void check_subnets(const Topology& t) const {
    for (size_t i = 0; i < t.networks.size(); ++i)
      for (size_t k = 0; k < i; ++k)
        if (net::overlaps(t.networks[i].subnet, t.networks[k].subnet))
          fail(path_key(path_key("networks", t.networks[i].name), "subnet"),
               t.networks[i].subnet.str() + " overlaps network '" + t.networks[k].name + "' (" +
                   t.networks[k].subnet.str() + ")");
  }

  runtime::Resources limits(const Json& j, const std::string& path) const {
    object(j, path);
    only_keys(j, path, {"memory", "memory_swap", "cpus", "cpu_shares", "cpuset_cpus", "pids_limit"});
    runtime::Resources r;
    for (const auto& [key, v] : j.items()) {
      const std::string p = path_key(path, key);
      const std::string s = scalar(v, p);
      auto bad = [&](const std::string& expected) { fail(p, "invalid " + key + " '" + s + "': expected " + expected); };
      if (key == "memory" || key == "memory_swap") {
        const auto n = s == "-1" && key == "memory_swap" ? std::optional<int64_t>(-1) : runtime::try_parse_size(s);
        if (!n || *n == 0) bad("a size such as 256m (units b, k, m, g)");
        (key == "memory" ? r.memory : r.memory_swap) = *n;
      } else if (key == "cpus") {
        const auto n = runtime::try_parse_cpus(s);
        if (!n) bad("a number of CPUs such as 1.5");
        r.nano_cpus = *n;
      } else if (key == "cpu_shares") {
        const auto n = runtime::try_parse_int(s);
        if (!n || *n < runtime::kMinCpuShares || *n > runtime::kMaxCpuShares) bad("a weight from 2 to 262144");
        r.cpu_shares = *n;
      } else if (key == "cpuset_cpus") {
        const auto cpus = runtime::try_parse_cpu_list(s);
        if (!cpus) bad("CPU numbers such as 0-2,5");
        r.cpuset_cpus = runtime::format_cpu_list(*cpus);
      } else {
        const auto n = runtime::try_parse_int(s);
        if (!n || *n < 1) bad("a positive number of processes");
        r.pids_limit = *n;
      }
    }
    return r;
  }

  std::vector<std::string> command(const Json& j, const std::string& path) const {
    std::vector<std::string> argv =
        j.is_string() ? at(path, [&] { return split_command(j.get<std::string>()); }) : strings(j, path);
    if (argv.empty() || argv[0].empty()) fail(path, "empty command");
    return argv;
  }

  void node_networks(const Topology& t, LabNode& n, const Json& j, const std::string& path) const {
    object(j, path);
    for (const auto& [name, v] : j.items()) {
      const std::string p = path_key(path, name);
      const LabNetwork* net = t.find_network(name);
      if (!net) fail(p, "unknown network '" + name + "' (the lab's networks are under \"networks\")");
      NodeAttachment a;
      a.network = name;
      if (!v.is_null()) {
        object(v, p);
        only_keys(v, p, {"ip"});
        if (v.contains("ip")) {
          const std::string ip_path = path_key(p, "ip");
          const net::Ipv4 ip = at(ip_path, [&] { return net::parse_ipv4(string(v["ip"], ip_path), "address"); });
          if (!net->subnet.contains(ip))
            fail(ip_path, "address " + ip.str() + " is outside network '" + name + "' (" + net->subnet.str() + ")");
          if (ip == net->subnet.network() || ip == net->subnet.broadcast())
            fail(ip_path, "address " + ip.str() + " is the network or broadcast address of " + net->subnet.str());
          if (net->gateway && ip == *net->gateway)
            fail(ip_path, "address " + ip.str() + " is the gateway of network '" + name + "'");
          a.ip = ip;
        }
      }
      n.networks.push_back(a);
    }
    if (n.networks.size() > net::kMaxNetworksPerContainer)
      fail(path, "too many networks: at most " + std::to_string(net::kMaxNetworksPerContainer));
  }

  LabNode node(const Topology& t, const std::string& name, const Json& j, const std::string& path) const {
    if (name.size() > kMaxNodeNameLen || !is_valid_lab_name(name))
      fail(path, "invalid node name '" + name + "': 1-" + std::to_string(kMaxNodeNameLen) +
                     " characters of [a-zA-Z0-9_.-], starting with a letter or digit");
    object(j, path);
    only_keys(j, path,
              {"image", "cmd", "env", "volumes", "ports", "limits", "networks", "sysctls", "exec", "hostname",
               "workdir", "user", "dns", "cap_add", "privileged", "description"});
    LabNode n;
    n.name = name;
    if (j.contains("image")) {
      n.image = string(j["image"], path_key(path, "image"));
      if (!runtime::ImageStore::is_valid_name(n.image))
        fail(path_key(path, "image"), "invalid image name '" + n.image + "'");
    }
    if (j.contains("cmd")) n.cmd = command(j["cmd"], path_key(path, "cmd"));
    if (j.contains("env")) {
      const std::string p = path_key(path, "env");
      if (j["env"].is_object()) {
        for (const auto& [k, v] : j["env"].items())
          n.env.push_back(
              at(path_key(p, k), [&] { return runtime::parse_env_entry(k + "=" + scalar(v, path_key(p, k))); }));
      } else {
        const auto list = strings(j["env"], p);
        for (size_t i = 0; i < list.size(); ++i)
          n.env.push_back(at(path_index(p, i), [&] { return runtime::parse_env_entry(list[i]); }));
      }
    }
    if (j.contains("volumes")) {
      const std::string p = path_key(path, "volumes");
      const auto list = strings(j["volumes"], p);
      for (size_t i = 0; i < list.size(); ++i)
        n.volumes.push_back(at(path_index(p, i), [&] {
          std::string v = list[i];
          // Relative sources are the file's neighbours, wherever nrun runs.
          if (!v.empty() && v[0] != '/') v = (base_dir_ / v).string();
          return runtime::parse_volume(v);
        }));
    }
    if (j.contains("ports")) {
      const std::string p = path_key(path, "ports");
      const auto list = strings(j["ports"], p);
      for (size_t i = 0; i < list.size(); ++i)
        for (auto& port : at(path_index(p, i), [&] { return net::parse_publish(list[i]); })) n.ports.push_back(port);
    }
    if (j.contains("limits")) n.limits = limits(j["limits"], path_key(path, "limits"));
    if (j.contains("networks")) node_networks(t, n, j["networks"], path_key(path, "networks"));
    if (!n.ports.empty() && std::none_of(n.networks.begin(), n.networks.end(),
                                         [&](const NodeAttachment& a) { return !t.find_network(a.network)->internal; }))
      fail(path_key(path, "ports"), "published ports need the node on a network that is not internal");
    if (j.contains("sysctls")) {
      const std::string p = path_key(path, "sysctls");
      for (const auto& [key, v] : object(j["sysctls"], p).items()) {
        const std::string kp = path_key(p, key);
        check_sysctl_key(key, kp);
        const std::string value = v.is_boolean() ? (v.get<bool>() ? "1" : "0") : scalar(v, kp);
        if (value.find_first_of("\n\0", 0, 2) != std::string::npos) fail(kp, "the value holds a newline or NUL");
        n.sysctls.emplace_back(key, value);
      }
    }
    if (j.contains("exec")) {
      const std::string p = path_key(path, "exec");
      const Json& list = array(j["exec"], p);
      for (size_t i = 0; i < list.size(); ++i) n.exec.push_back(command(list[i], path_index(p, i)));
    }
    if (j.contains("hostname")) {
      n.hostname = string(j["hostname"], path_key(path, "hostname"));
      if (!runtime::is_valid_hostname(n.hostname))
        fail(path_key(path, "hostname"), "invalid hostname '" + n.hostname + "'");
    }
    if (j.contains("workdir")) {
      const std::string p = path_key(path, "workdir");
      n.workdir = at(p, [&] { return runtime::normalize_container_path(string(j["workdir"], p)); });
    }
    if (j.contains("user")) {
      const std::string p = path_key(path, "user");
      n.user = string(j["user"], p);
      at(p, [&] {
        runtime::validate_user_spec(n.user);
        return 0;
      });
    }
    if (j.contains("dns")) {
      const std::string p = path_key(path, "dns");
      n.dns = strings(j["dns"], p);
      for (size_t i = 0; i < n.dns.size(); ++i)
        at(path_index(p, i), [&] { return net::parse_ipv4(n.dns[i], "dns address"); });
    }
    if (j.contains("cap_add")) {
      const std::string p = path_key(path, "cap_add");
      n.cap_add = strings(j["cap_add"], p);
      at(p, [&] {
        runtime::validate_capability_names(n.cap_add, "cap_add");
        return 0;
      });
    }
    if (j.contains("privileged")) n.privileged = boolean(j["privileged"], path_key(path, "privileged"));
    return n;
  }

  void check_sysctl_key(const std::string& key, const std::string& path) const {
    // Only the network namespace's own settings: anything else would change
    // the host for every container.
    if (key.rfind("net.", 0) != 0 || key.size() < 5)
      fail(path, "only network sysctls (net.*) can be set per node: '" + key + "' belongs to the whole host");
    bool dot = true;
    for (char c : key) {
      if (c == '.') {
        if (dot) fail(path, "invalid sysctl name '" + key + "'");
        dot = true;
        continue;
      }
      dot = false;
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
        fail(path, "invalid sysctl name '" + key + "'");
    }
    if (dot) fail(path, "invalid sysctl name '" + key + "'");
  }

  LinkEnd endpoint(const Topology& t, const std::string& s, const std::string& path) const {
    const size_t colon = s.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
      fail(path, "invalid endpoint '" + s + "': expected NODE:INTERFACE");
    LinkEnd e{s.substr(0, colon), s.substr(colon + 1), std::nullopt};
    if (!t.find_node(e.node)) fail(path, "unknown node '" + e.node + "' in endpoint '" + s + "'");
    if (!is_valid_ifname(e.ifname) || e.ifname == "lo")
      fail(path, "invalid interface name '" + e.ifname + "': 1-15 characters, no '/', ':' or blanks, not lo");
    return e;
  }

  LabLink link(const Topology& t, const Json& j, const std::string& path) const {
    object(j, path);
    only_keys(j, path, {"endpoints", "ips", "mtu", "netem", "description"});
    if (!j.contains("endpoints")) fail(path, "missing key 'endpoints'");
    const std::string ep = path_key(path, "endpoints");
    const auto ends = strings(j["endpoints"], ep);
    if (ends.size() != 2) fail(ep, "a link has exactly two endpoints, NODE:INTERFACE each");
    LabLink l;
    l.a = endpoint(t, ends[0], path_index(ep, 0));
    l.b = endpoint(t, ends[1], path_index(ep, 1));
    // A veth between two interfaces of one namespace is a loop, not a link
    // to another device: the node would hear itself.
    if (l.a.node == l.b.node)
      fail(ep, "both ends are on node '" + l.a.node + "': a link joins two different nodes");
    if (j.contains("ips")) {
      const std::string ip = path_key(path, "ips");
      const auto ips = strings(j["ips"], ip);
      if (ips.size() != 2) fail(ip, "expected two addresses in CIDR notation, one per endpoint");
      for (int i = 0; i < 2; ++i) {
        const std::string p = path_index(ip, i);
        const net::Cidr c = at(p, [&] { return net::parse_cidr(ips[i], false, "address"); });
        if (c.prefix < 31 && (c.addr == c.network() || c.addr == c.broadcast()))
          fail(p, "address " + c.str() + " is the network or broadcast address of its subnet");
        (i == 0 ? l.a : l.b).address = c;
      }
      if (l.a.address->prefix != l.b.address->prefix || l.a.address->network() != l.b.address->network())
        fail(path_index(ip, 1), "address " + l.b.address->str() + " is outside the subnet of the other end (" +
                                    net::Cidr{l.a.address->network(), l.a.address->prefix}.str() + ")");
    }
    if (j.contains("mtu")) l.mtu = mtu(j["mtu"], path_key(path, "mtu"));
    if (j.contains("netem")) {
      const std::string p = path_key(path, "netem");
      for (const auto& [key, v] : object(j["netem"], p).items()) {
        const std::string kp = path_key(p, key);
        if (!net::is_netem_key(key))
          fail(kp,
               "unknown key '" + key + "' (known here: delay, jitter, loss, duplicate, reorder, corrupt, rate, limit)");
        at(kp, [&] {
          net::set_netem_field(l.netem, key, scalar(v, kp), "");
          return 0;
        });
      }
      at(p, [&] {
        net::validate_netem(l.netem, "");
        return 0;
      });
    }
    return l;
  }

  // Each interface of a node once: ethN for its N-th network, then the
  // link ends.
  void check_interfaces(const Topology& t) const {
    std::map<std::string, std::string> used;  // node:ifname -> where
    for (const auto& n : t.nodes)
      for (size_t i = 0; i < n.networks.size(); ++i)
        used[n.name + ":eth" + std::to_string(i)] =
            path_key(path_key(path_key("nodes", n.name), "networks"), n.networks[i].network);
    for (size_t i = 0; i < t.links.size(); ++i) {
      const std::string ep = path_key(path_index("links", i), "endpoints");
      for (int k = 0; k < 2; ++k) {
        const LinkEnd& e = k == 0 ? t.links[i].a : t.links[i].b;
        const auto [it, fresh] = used.emplace(e.str(), path_index(ep, k));
        if (!fresh) fail(path_index(ep, k), "interface '" + e.str() + "' is used twice (also by " + it->second + ")");
      }
    }
  }

  // No address twice in the lab: nodes' static addresses, gateways, links.
  void check_addresses(const Topology& t) const {
    std::map<net::Ipv4, std::string> used;
    auto claim = [&](net::Ipv4 ip, const std::string& path) {
      const auto [it, fresh] = used.emplace(ip, path);
      if (!fresh) fail(path, "address " + ip.str() + " is used twice (also by " + it->second + ")");
    };
    for (const auto& n : t.networks)
      if (n.gateway) claim(*n.gateway, path_key(path_key("networks", n.name), "gateway"));
    for (const auto& n : t.nodes)
      for (const auto& a : n.networks)
        if (a.ip) claim(*a.ip, path_key(path_key(path_key(path_key("nodes", n.name), "networks"), a.network), "ip"));
    for (size_t i = 0; i < t.links.size(); ++i) {
      const std::string ips = path_key(path_index("links", i), "ips");
      if (t.links[i].a.address) claim(t.links[i].a.address->addr, path_index(ips, 0));
      if (t.links[i].b.address) claim(t.links[i].b.address->addr, path_index(ips, 1));
    }
  }

  std::string_view text_;
  std::string source_;
  fs::path base_dir_;
  JsonLines lines_;
};
}  // namespace

Topology parse_topology(std::string_view text, const std::string& source, const fs::path& base_dir) {
  return Parser(text, source, base_dir).parse();
}

Topology load_topology(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("cannot read topology file '" + file.string() + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const fs::path abs = fs::absolute(file);
  return parse_topology(ss.str(), file.string(), abs.parent_path());
}

}  // namespace nrun::lab
