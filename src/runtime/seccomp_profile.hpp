// Seccomp profiles in Docker's JSON format (defaultAction, syscalls[{names,
// action, errnoRet, args[{index, value, valueTwo, op}], includes, excludes}],
// architectures / archMap), nrun's default profile, and the choice of the
// rules that apply to one container. Pure: seccomp.hpp compiles the result.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nrun::runtime {

enum class SeccompAction { allow, errno_ret, kill_thread, kill_process, trap, trace, log };
enum class SeccompOp { ne, lt, le, eq, ge, gt, masked_eq };

struct SeccompArg {
  unsigned index = 0;      // 0..5
  uint64_t value = 0;      // masked_eq: the mask
  uint64_t value_two = 0;  // masked_eq: the value compared with arg & mask
  SeccompOp op = SeccompOp::eq;
  bool operator==(const SeccompArg&) const = default;
};

// When a rule applies (Docker's includes/excludes): caps as
// "CAP_SYS_ADMIN", arches as Go names ("amd64", "arm64"), a kernel version
// "4.8".
struct SeccompCondition {
  std::vector<std::string> caps;
  std::vector<std::string> arches;
  std::string min_kernel;
  bool empty() const { return caps.empty() && arches.empty() && min_kernel.empty(); }
  bool operator==(const SeccompCondition&) const = default;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::allow;
  std::optional<int> errno_ret;  // errno (or trace message); unset: the profile's default, else EPERM
  // Conditions on different arguments are ANDed; several on one argument
  // make one rule each (ORed), as runc does.
  std::vector<SeccompArg> args;
  SeccompCondition includes;  // applies only when all of these hold
  SeccompCondition excludes;  // never applies when any of these holds
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::allow;
  std::optional<int> default_errno;
  // libseccomp names (SCMP_ARCH_X86_64, ...); empty: the native one plus
  // the 32-bit ABIs it runs (x86 and x32 on x86_64, arm on aarch64).
  std::vector<std::string> architectures;
  std::vector<std::string> flags;  // SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW (TSYNC is accepted and moot)
  std::vector<SeccompRule> syscalls;
};

// Parses and checks a profile in Docker's format; throws UsageError naming
// the problem (unknown action, operator or architecture, an argument index
// past 5, a notify action nrun has no listener for). `native_arch` (a
// libseccomp name) picks the archMap entry.
SeccompProfile parse_seccomp_profile(const std::string& json, const std::string& native_arch = "SCMP_ARCH_X86_64");

// nrun's default: everything is allowed but a deny-list, in the spirit of
// Docker's default. Refused with EPERM: the mount family, module loading,
// kexec, reboot, swap, the kernel keyring, bpf, perf_event_open,
// userfaultfd, io_uring, open_by_handle_at, time setting, acct, iopl,
// setns, new user namespaces (clone/unshare CLONE_NEWUSER) and, without
// CAP_SYS_ADMIN, any other new namespace, and odd personality() values.
// clone3 fails with ENOSYS, so glibc falls back to clone, whose flags can be
// filtered. Rules tied to a capability (mount with CAP_SYS_ADMIN, ...) drop
// out when the container has it, as Docker's do. ptrace is allowed from
// Linux 4.8 on (seccomp can no longer be bypassed with it), as Docker.
SeccompProfile default_seccomp_profile();

struct SeccompTarget {
  std::vector<std::string> caps;  // the container's bounding set, "CAP_*"
  std::string arch = "amd64";     // Go's name of the native architecture
  std::string kernel;             // uname release, "6.1.0-18-amd64"
};

// The rules of `p` whose includes/excludes match the target, with each
// rule's errno resolved.
std::vector<SeccompRule> applicable_rules(const SeccompProfile& p, const SeccompTarget& t);

// Pure evaluation of `rules` for one call, libseccomp's way: the most
// restrictive action of the matching rules (kill > trap > errno > trace >
// log > allow), else the default. For unit tests of the profiles.
struct SeccompVerdict {
  SeccompAction action;
  int errno_ret = 0;
  bool operator==(const SeccompVerdict&) const = default;
};
SeccompVerdict evaluate_seccomp(const SeccompProfile& p, const std::vector<SeccompRule>& rules,
                                const std::string& syscall, const std::array<uint64_t, 6>& args);

// "4.8" <= "6.1.0-18-amd64"; a version nrun cannot read compares as older.
bool kernel_at_least(const std::string& release, const std::string& min);

}  // namespace nrun::runtime
