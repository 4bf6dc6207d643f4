// The container's configuration as the user gave it, and its validation.
// Pure: nothing here touches the system except reading an env file.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/options.hpp"
#include "runtime/resources.hpp"

namespace nrun::runtime {

struct VolumeSpec {
  std::string host;       // absolute host path (made absolute by parse_volume)
  std::string container;  // absolute path inside the container
  bool read_only = false;
  bool operator==(const VolumeSpec&) const = default;
};

struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> command;  // argv; argv[0] looked up in the container's PATH
  std::string hostname;              // defaults to the short id
  std::vector<std::string> env;      // KEY=VALUE, user entries override defaults
  std::string workdir = "/";
  std::vector<VolumeSpec> volumes;
  // Network mode: "bridge" (the default network), a user network's name,
  // none, host or container:<id>. For the network modes, `networks` lists
  // every network joined, eth0 first (empty: just `net`).
  std::string net = "bridge";
  std::vector<net::NetworkAttachment> networks;
  std::vector<net::PortSpec> ports;  // -p / -P
  std::vector<std::string> dns;      // --dns
  bool tty = false;
  bool interactive = false;
  bool remove = false;     // --rm
  bool read_only = false;  // --read-only rootfs
  Resources resources;     // cgroup limits
  // Namespace sharing, as Docker spells it: "" (private), "host", or
  // "container:<id>" (the CLI resolves a name to the id). uts takes only host.
  std::string pid_mode, ipc_mode, uts_mode;
  // Security, as Docker spells it (security.hpp turns it into settings).
  std::vector<std::string> cap_add, cap_drop;  // "NET_ADMIN", "CAP_NET_ADMIN", "ALL"
  bool privileged = false;
  bool no_new_privileges = true;
  // "" (nrun's default profile), "unconfined", or a profile's JSON text: the
  // CLI reads the file, as Docker's client does, so every exec and start
  // applies the profile the container was created with.
  std::string seccomp_profile;
  std::string user;                    // -u USER[:GROUP]; empty: root
  std::vector<std::string> group_add;  // --group-add NAME|GID
  std::map<std::string, std::string> sysctls;
  // The lab whose node this is (empty: none): a destroy finds its nodes by
  // this mark when the lab's own record is lost or torn.
  std::string lab;
};

inline constexpr const char* kSeccompUnconfined = "unconfined";

// "container:<ref>" -> "<ref>"; empty when the mode is not a container's.
std::string shared_container_of(const std::string& mode);

// Parses HOST:CTR[:ro|rw]; a relative host path is made absolute against cwd.
VolumeSpec parse_volume(const std::string& arg);
// Checks KEY=VALUE (KEY non-empty, no NUL/'='); a bare KEY takes the value
// from nrun's own environment, as Docker does; throws UsageError.
std::string parse_env_entry(const std::string& arg);
// Reads an env file: KEY=VALUE per line, '#' comments and blank lines skipped.
std::vector<std::string> read_env_file(const std::string& path);

// Container names: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}, as Docker.
bool is_valid_container_name(const std::string& name);
// Hostnames: 1-63 chars of [a-zA-Z0-9-], not starting or ending with '-'.
bool is_valid_hostname(const std::string& name);

// Lexically normalises an absolute container path ("/a/../b" -> "/b") and
// rejects one that is relative or climbs above "/".
std::string normalize_container_path(const std::string& path);

// Complete validation, before anything is created; throws UsageError naming
// the first problem. Checks that volume sources exist.
void validate(const ContainerSpec& spec);

// The environment the command starts with: defaults (PATH, HOSTNAME, HOME,
// TERM when tty) overridden by spec.env.
std::vector<std::string> effective_env(const ContainerSpec& spec);

// Refuses (UsageError) a command and environment execve would refuse with
// E2BIG: one string past the kernel's MAX_ARG_STRLEN (128 KiB), or all of
// them, with their pointers, past the limit it derives from the stack
// rlimit (a quarter of it, between 128 KiB and 6 MiB). Checked up front so
// the user gets a clear 125 instead of a 126 from inside the container.
void validate_exec_size(const std::vector<std::string>& argv, const std::vector<std::string>& env);

void to_json(nlohmann::json& j, const VolumeSpec& v);
void from_json(const nlohmann::json& j, VolumeSpec& v);
void to_json(nlohmann::json& j, const ContainerSpec& s);
void from_json(const nlohmann::json& j, ContainerSpec& s);

}  // namespace nrun::runtime

namespace nrun::runtime {

struct ImageAndCommand {
  std::string image;
  std::vector<std::string> command;
};

// `nrun run [IMAGE] COMMAND [ARG...]`: the first word is the image when
// `is_image` says a local image has that name, otherwise the default image
// is used and every word is the command. An image with no command runs sh.
ImageAndCommand split_image_and_command(const std::vector<std::string>& words,
                                        const std::function<bool(const std::string&)>& is_image,
                                        const std::string& default_image);

}  // namespace nrun::runtime
