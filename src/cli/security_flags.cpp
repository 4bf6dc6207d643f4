#include "cli/security_flags.hpp"

#include <fstream>
#include <sstream>

#include "runtime/security.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sysctl.hpp"

namespace nrun::cli {
using sys::UsageError;

namespace {
bool parse_bool(const std::string& opt, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw UsageError("invalid --security-opt '" + opt + "': expected true or false");
}

std::string read_profile(const std::string& opt, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("invalid --security-opt '" + opt + "': cannot read seccomp profile '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw UsageError("invalid --security-opt '" + opt + "': seccomp profile '" + path + "' is empty");
  return ss.str();
}

void apply_security_opt(const std::string& opt, runtime::ContainerSpec& spec) {
  // Docker takes KEY=VALUE and the older KEY:VALUE.
  const auto sep = opt.find_first_of("=:");
  const std::string key = opt.substr(0, sep);
  const std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
  if (key == "no-new-privileges") {
    spec.no_new_privileges = sep == std::string::npos ? true : parse_bool(opt, value);
  } else if (key == "seccomp") {
    if (value.empty()) throw UsageError("invalid --security-opt '" + opt + "': expected seccomp=unconfined or seccomp=PROFILE.json");
    spec.seccomp_profile = value == runtime::kSeccompUnconfined ? value : read_profile(opt, value);
  } else {
    throw UsageError("unsupported --security-opt '" + opt + "' (no-new-privileges[=true|false], seccomp=unconfined|PROFILE.json)");
  }
}
}  // namespace

void add_security_flags(CLI::App* cmd, SecurityFlags& f) {
  cmd->add_option("--cap-add", f.cap_add, "Add a capability (NET_ADMIN, CAP_SYS_TIME, ALL; repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--cap-drop", f.cap_drop, "Drop a capability (repeatable; ALL drops every one)")->allow_extra_args(false);
  cmd->add_flag("--privileged", f.privileged,
                "Every capability, no seccomp, no masked paths, every device, writable /sys and /proc/sys");
  cmd->add_option("--security-opt", f.security_opt,
                  "no-new-privileges[=true|false] (default true), seccomp=unconfined|PROFILE.json (Docker's format)")
      ->allow_extra_args(false);
  cmd->add_option("-u,--user", f.user, "USER[:GROUP], names from the image's /etc/passwd and /etc/group");
  cmd->add_option("--group-add", f.group_add, "Another group to run as (name or id; repeatable)")->allow_extra_args(false);
  cmd->add_option("--sysctl", f.sysctls, "Namespaced sysctl KEY=VALUE (net.*, kernel.shm*, kernel.msg*, ...)")
      ->allow_extra_args(false);
}

void apply_security_flags(const SecurityFlags& f, runtime::ContainerSpec& spec) {
  spec.cap_add = f.cap_add;
  spec.cap_drop = f.cap_drop;
  spec.privileged = f.privileged;
  for (const auto& opt : f.security_opt) apply_security_opt(opt, spec);
  spec.user = f.user;
  spec.group_add = f.group_add;
  for (const auto& s : f.sysctls) {
    auto [key, value] = runtime::parse_sysctl(s);
    spec.sysctls[key] = value;
  }
}

void check_security_flags(const runtime::ContainerSpec& spec) {
  if (spec.privileged || spec.seccomp_profile.empty() || spec.seccomp_profile == runtime::kSeccompUnconfined) return;
  try {
    runtime::process_security(spec);
  } catch (const sys::SysError& e) {
    throw UsageError(std::string("seccomp profile: ") + e.what());
  } catch (const UsageError&) {
    throw;
  } catch (const sys::Error& e) {
    throw UsageError(std::string("seccomp profile: ") + e.what());
  }
}

}  // namespace nrun::cli
