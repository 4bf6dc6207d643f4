// The security flags of `run`, spelled as Docker spells them: --cap-add,
// --cap-drop, --privileged, --security-opt no-new-privileges[=true|false]
// and seccomp=unconfined|PROFILE.json, -u/--user, --group-add, --sysctl;
// and their translation into the spec.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "runtime/spec.hpp"

namespace nrun::cli {

struct SecurityFlags {
  std::vector<std::string> cap_add, cap_drop, security_opt, group_add, sysctls;
  bool privileged = false;
  std::string user;
};

void add_security_flags(CLI::App* cmd, SecurityFlags& f);

// Fills the spec's security fields; a seccomp profile file is read here (its
// contents go into the spec, as Docker's client sends them). Throws
// UsageError for an unknown --security-opt, an unreadable profile or a
// malformed --sysctl; validate(spec) checks the rest.
void apply_security_flags(const SecurityFlags& f, runtime::ContainerSpec& spec);

// After validate(): compiles a custom seccomp profile once, so that what
// libseccomp refuses is an error before anything is created.
void check_security_flags(const runtime::ContainerSpec& spec);

}  // namespace nrun::cli
