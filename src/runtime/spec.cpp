#include "runtime/spec.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "net/network_store.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sysctl.hpp"
#include "runtime/user.hpp"

namespace nrun::runtime {
using sys::UsageError;

namespace {
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }
}  // namespace

std::string normalize_container_path(const std::string& path) {
  if (path.empty() || path[0] != '/') throw UsageError("container path '" + path + "' must be absolute");
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) throw UsageError("container path '" + path + "' climbs out of the root");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

VolumeSpec parse_volume(const std::string& arg) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t colon = arg.find(':', start);
    parts.push_back(arg.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    throw UsageError("invalid volume '" + arg + "': expected HOST:CONTAINER[:ro|rw]");
  VolumeSpec v;
  if (parts.size() == 3) {
    if (parts[2] == "ro") v.read_only = true;
    else if (parts[2] != "rw") throw UsageError("invalid volume '" + arg + "': unknown mode '" + parts[2] + "' (ro or rw)");
  }
  v.host = std::filesystem::absolute(parts[0]).lexically_normal().string();
  if (v.host.size() > 1 && v.host.back() == '/') v.host.pop_back();
  if (parts[1][0] != '/') throw UsageError("invalid volume '" + arg + "': container path '" + parts[1] + "' must be absolute");
  v.container = normalize_container_path(parts[1]);
  if (v.container == "/") throw UsageError("invalid volume '" + arg + "': cannot mount over the container's root");
  return v;
}

std::string parse_env_entry(const std::string& arg) {
  const auto eq = arg.find('=');
  const std::string key = arg.substr(0, eq);
  if (key.empty()) throw UsageError("invalid environment entry '" + arg + "': empty variable name");
  for (char c : key)
    if (std::isspace(static_cast<unsigned char>(c)))
      throw UsageError("invalid environment entry '" + arg + "': variable name contains whitespace");
  if (arg.find('\0') != std::string::npos) throw UsageError("invalid environment entry: contains NUL");
  if (eq != std::string::npos) return arg;
  const char* v = std::getenv(key.c_str());
  return key + "=" + (v ? v : "");
}

std::vector<std::string> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read env file '" + path + "'");
  std::vector<std::string> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    try {
      out.push_back(parse_env_entry(line.substr(first)));
    } catch (const UsageError& e) {
      throw UsageError("env file '" + path + "' line " + std::to_string(lineno) + ": " + e.what());
    }
  }
  return out;
}

bool is_valid_container_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!is_name_char(c)) return false;
  return true;
}

bool is_valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  return true;
}

std::string shared_container_of(const std::string& mode) {
  constexpr std::string_view kPrefix = "container:";
  return mode.rfind(kPrefix, 0) == 0 ? mode.substr(kPrefix.size()) : "";
}

namespace {
void validate_namespace_mode(const char* flag, const std::string& mode, bool container_allowed) {
  if (mode.empty() || mode == "host") return;
  if (container_allowed && !shared_container_of(mode).empty()) return;
  throw UsageError(std::string("invalid ") + flag + " '" + mode + "': " +
                   (container_allowed ? "host or container:NAME" : "only host"));
}

void validate_security(const ContainerSpec& spec) {
  validate_capability_names(spec.cap_add, "--cap-add");
  validate_capability_names(spec.cap_drop, "--cap-drop");
  if (!spec.seccomp_profile.empty() && spec.seccomp_profile != kSeccompUnconfined)
    parse_seccomp_profile(spec.seccomp_profile);
  for (const auto& [key, value] : spec.sysctls) validate_sysctl(key, spec.net, spec.ipc_mode);
  if (!spec.user.empty() && (spec.user.front() == ':' || spec.user.back() == ':' ||
                             spec.user.find_first_of(" \t\n") != std::string::npos))
    throw UsageError("invalid user '" + spec.user + "': expected USER[:GROUP]");
  for (const auto& g : spec.group_add)
    if (g.empty() || g.find_first_of(": \t\n") != std::string::npos)
      throw UsageError("invalid --group-add '" + g + "': expected a group name or id");
  validate_user_spec(spec.user, spec.group_add);
}
}  // namespace

void validate(const ContainerSpec& spec) {
  validate_namespace_mode("--pid", spec.pid_mode, true);
  validate_namespace_mode("--ipc", spec.ipc_mode, true);
  validate_namespace_mode("--uts", spec.uts_mode, false);
  validate_security(spec);
  if (!spec.name.empty() && !is_valid_container_name(spec.name))
    throw UsageError("invalid container name '" + spec.name + "': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  if (!spec.hostname.empty() && !is_valid_hostname(spec.hostname))
    throw UsageError("invalid hostname '" + spec.hostname + "'");
  if (spec.command.empty() || spec.command[0].empty()) throw UsageError("no command given");
  if (spec.workdir.empty() || spec.workdir[0] != '/')
    throw UsageError("working directory '" + spec.workdir + "' must be absolute");
  normalize_container_path(spec.workdir);
  for (const auto& e : spec.env) parse_env_entry(e);
  validate_exec_size(spec.command, effective_env(spec));
  if (spec.net.rfind("container:", 0) == 0 ? shared_container_of(spec.net).empty()
                                            : !net::is_special_net_mode(spec.net) && spec.net != net::kDefaultNetwork &&
                                                  !net::is_valid_network_name(spec.net))
    throw UsageError("invalid network mode '" + spec.net + "' (bridge, none, host, container:NAME or a network name)");
  net::validate_network_options(spec.net, spec.networks.empty() && !net::is_special_net_mode(spec.net)
                                              ? std::vector<net::NetworkAttachment>{{spec.net, "", "", {}}}
                                              : spec.networks,
                                spec.ports, spec.dns);
  std::vector<std::string> targets;
  for (const auto& v : spec.volumes) {
    struct stat st;
    if (::stat(v.host.c_str(), &st) != 0)
      throw UsageError("volume source '" + v.host + "' does not exist");
    const std::string target = normalize_container_path(v.container);
    for (const auto& t : targets)
      if (t == target) throw UsageError("duplicate mount point '" + target + "'");
    targets.push_back(target);
  }
}

void validate_exec_size(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  constexpr size_t kMaxArgStrlen = 32 * 4096;  // MAX_ARG_STRLEN, with the NUL
  constexpr size_t kMinTotal = 32 * 4096, kMaxTotal = 6 << 20;  // ARG_MAX; _STK_LIM / 4 * 3
  // The exec trampoline's own three words (process_setup.cpp) and the
  // resolved path ride along.
  constexpr size_t kTrampolineSlack = 3 * sizeof(char*) + 64 + 4096;
  rlimit stack{};
  size_t limit = kMaxTotal;
  if (::getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur != RLIM_INFINITY)
    limit = std::clamp<size_t>(stack.rlim_cur / 4, kMinTotal, kMaxTotal);
  size_t total = kTrampolineSlack;
  auto add = [&](const std::string& s, const char* what) {
    if (s.size() + 1 > kMaxArgStrlen)
      throw UsageError(std::string(what) + " '" + s.substr(0, 32) + "...' is " + std::to_string(s.size()) +
                       " bytes long: the kernel takes at most " + std::to_string(kMaxArgStrlen - 1) + " in one");
    total += s.size() + 1 + sizeof(char*);
  };
  for (const auto& a : argv) add(a, "argument");
  for (const auto& e : env) add(e, "environment variable");
  if (total > limit)
    throw UsageError("argument list too long: the command and its environment take " + std::to_string(total) +
                     " bytes, the kernel takes at most " + std::to_string(limit) + " here");
}

std::vector<std::string> effective_env(const ContainerSpec& spec) {
  std::vector<std::string> env = {std::string("PATH=") + kDefaultPath, "HOSTNAME=" + spec.hostname, "HOME=/root"};
  if (spec.tty) env.push_back("TERM=xterm");
  for (const auto& entry : spec.env) {
    const std::string key = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (auto& e : env)
      if (e.compare(0, key.size(), key) == 0) {
        e = entry;
        replaced = true;
      }
    if (!replaced) env.push_back(entry);
  }
  return env;
}

void to_json(nlohmann::json& j, const VolumeSpec& v) {
  j = {{"host", v.host}, {"container", v.container}, {"read_only", v.read_only}};
}
void from_json(const nlohmann::json& j, VolumeSpec& v) {
  j.at("host").get_to(v.host);
  j.at("container").get_to(v.container);
  v.read_only = j.value("read_only", false);
}

void to_json(nlohmann::json& j, const ContainerSpec& s) {
  j = {{"name", s.name},       {"image", s.image},   {"command", s.command},     {"hostname", s.hostname},
       {"env", s.env},         {"workdir", s.workdir}, {"volumes", s.volumes}, {"net", s.net},
       {"tty", s.tty},         {"interactive", s.interactive}, {"remove", s.remove}, {"read_only", s.read_only},
       {"resources", s.resources}, {"pid_mode", s.pid_mode}, {"ipc_mode", s.ipc_mode},
       {"uts_mode", s.uts_mode},   {"networks", s.networks}, {"ports", s.ports}, {"dns", s.dns},
       {"cap_add", s.cap_add},     {"cap_drop", s.cap_drop}, {"privileged", s.privileged},
       {"no_new_privileges", s.no_new_privileges}, {"seccomp_profile", s.seccomp_profile},
       {"user", s.user},           {"group_add", s.group_add}, {"sysctls", s.sysctls}};
  if (!s.lab.empty()) j["lab"] = s.lab;
}
void from_json(const nlohmann::json& j, ContainerSpec& s) {
  j.at("name").get_to(s.name);
  j.at("image").get_to(s.image);
  j.at("command").get_to(s.command);
  s.hostname = j.value("hostname", "");
  s.env = j.value("env", std::vector<std::string>{});
  s.workdir = j.value("workdir", "/");
  s.volumes = j.value("volumes", std::vector<VolumeSpec>{});
  s.net = j.value("net", "none");
  s.networks = j.value("networks", std::vector<net::NetworkAttachment>{});
  s.ports = j.value("ports", std::vector<net::PortSpec>{});
  s.dns = j.value("dns", std::vector<std::string>{});
  s.tty = j.value("tty", false);
  s.interactive = j.value("interactive", false);
  s.remove = j.value("remove", false);
  s.read_only = j.value("read_only", false);
  if (j.contains("resources")) j.at("resources").get_to(s.resources);
  s.pid_mode = j.value("pid_mode", "");
  s.ipc_mode = j.value("ipc_mode", "");
  s.uts_mode = j.value("uts_mode", "");
  s.cap_add = j.value("cap_add", std::vector<std::string>{});
  s.cap_drop = j.value("cap_drop", std::vector<std::string>{});
  s.privileged = j.value("privileged", false);
  s.no_new_privileges = j.value("no_new_privileges", true);
  s.seccomp_profile = j.value("seccomp_profile", "");
  s.user = j.value("user", "");
  s.group_add = j.value("group_add", std::vector<std::string>{});
  s.sysctls = j.value("sysctls", std::map<std::string, std::string>{});
  s.lab = j.value("lab", "");
}

}  // namespace nrun::runtime

namespace nrun::runtime {

ImageAndCommand split_image_and_command(const std::vector<std::string>& words,
                                        const std::function<bool(const std::string&)>& is_image,
                                        const std::string& default_image) {
  if (words.empty()) return {default_image, {"sh"}};
  if (!words[0].empty() && words[0][0] == '-') throw sys::UsageError("unknown flag '" + words[0] + "'");
  if (is_image(words[0])) {
    std::vector<std::string> cmd(words.begin() + 1, words.end());
    if (cmd.empty()) cmd = {"sh"};
    return {words[0], cmd};
  }
  return {default_image, words};
}

}  // namespace nrun::runtime
