// Compiling a seccomp profile into a BPF program with libseccomp (in the
// parent, before clone), and installing it (in the child, last before
// execve, so the child runs no library code to do it).
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/seccomp_profile.hpp"

namespace nrun::runtime {

struct SeccompProgram {
  std::vector<sock_filter> filter;  // empty: no filter (unconfined)
  unsigned flags = 0;               // SECCOMP_FILTER_FLAG_*
  bool empty() const { return filter.empty(); }
};

// The target this host's processes present: native arch, kernel release,
// and the given capability set as names.
SeccompTarget seccomp_target(uint64_t capabilities);

// libseccomp's name of the native architecture ("SCMP_ARCH_X86_64").
std::string native_seccomp_arch();

// Builds the filter for `profile` as it applies to `target`. System calls
// libseccomp does not know are skipped (a profile may name newer ones), as
// runc does. Throws Error when libseccomp refuses a rule.
SeccompProgram compile_seccomp(const SeccompProfile& profile, const SeccompTarget& target);

// compile_seccomp, memoised in `cache_dir` (nrun's root's cache/): a
// program is keyed by a hash of everything that shapes it — the rules that
// apply, the default action, architectures, flags and libseccomp's version
// — so only the first container with a given profile and capability set
// pays libseccomp's ~1.5 ms. Cache trouble falls back to compiling.
SeccompProgram compile_seccomp_cached(const SeccompProfile& profile, const SeccompTarget& target,
                                      const std::filesystem::path& cache_dir);

// Installs the program in the calling thread (seccomp(2)); needs
// no_new_privs or CAP_SYS_ADMIN. A no-op for an empty program.
void load_seccomp(const SeccompProgram& program);

}  // namespace nrun::runtime
