#include "runtime/seccomp.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>

#include "runtime/capabilities.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::runtime {
namespace {
struct CtxFree {
  void operator()(void* c) const noexcept { seccomp_release(c); }
};
using SeccompCtx = std::unique_ptr<void, CtxFree>;

void check_scmp(int rc, const std::string& what) {
  if (rc < 0) throw sys::SysError(-rc, what);
}

uint32_t scmp_action(SeccompAction a, int errno_ret) {
  switch (a) {
    case SeccompAction::allow: return SCMP_ACT_ALLOW;
    case SeccompAction::errno_ret: return SCMP_ACT_ERRNO(static_cast<uint16_t>(errno_ret));
    case SeccompAction::kill_thread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kill_process: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::trap: return SCMP_ACT_TRAP;
    case SeccompAction::trace: return SCMP_ACT_TRACE(static_cast<uint16_t>(errno_ret));
    case SeccompAction::log: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare scmp_op(SeccompOp op) {
  switch (op) {
    case SeccompOp::ne: return SCMP_CMP_NE;
    case SeccompOp::lt: return SCMP_CMP_LT;
    case SeccompOp::le: return SCMP_CMP_LE;
    case SeccompOp::eq: return SCMP_CMP_EQ;
    case SeccompOp::ge: return SCMP_CMP_GE;
    case SeccompOp::gt: return SCMP_CMP_GT;
    case SeccompOp::masked_eq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

scmp_arg_cmp scmp_arg(const SeccompArg& a) {
  scmp_arg_cmp c{};
  c.arg = a.index;
  c.op = scmp_op(a.op);
  c.datum_a = a.value;
  c.datum_b = a.value_two;
  return c;
}

// "SCMP_ARCH_X86_64" -> libseccomp's token; 0 when it does not know it.
uint32_t arch_token(const std::string& name) {
  std::string lower = name.substr(std::string("SCMP_ARCH_").size());
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return seccomp_arch_resolve_name(lower.c_str());
}

std::vector<std::string> default_arches(const std::string& native) {
  if (native == "SCMP_ARCH_X86_64") return {native, "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  if (native == "SCMP_ARCH_AARCH64") return {native, "SCMP_ARCH_ARM"};
  return {native};
}

void add_rule(void* ctx, uint32_t action, int nr, const std::vector<scmp_arg_cmp>& args, const std::string& name) {
  const int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(args.size()), args.data());
  if (rc < 0) throw sys::SysError(-rc, "seccomp rule for '" + name + "'");
}

std::vector<sock_filter> export_bpf(void* ctx) {
  sys::Fd mem(static_cast<int>(sys::check(::memfd_create("nrun-seccomp", MFD_CLOEXEC), "memfd_create")));
  check_scmp(seccomp_export_bpf(ctx, mem.get()), "export seccomp filter");
  const off_t size = static_cast<off_t>(sys::check(::lseek(mem.get(), 0, SEEK_END), "seek seccomp filter"));
  if (size % sizeof(sock_filter) != 0) throw sys::Error("seccomp filter of odd size " + std::to_string(size));
  std::vector<sock_filter> out(static_cast<size_t>(size) / sizeof(sock_filter));
  if (size > 0 && ::pread(mem.get(), out.data(), static_cast<size_t>(size), 0) != size)
    throw sys::Error("short read of the seccomp filter");
  return out;
}
}  // namespace

std::string native_seccomp_arch() {
  const uint32_t native = seccomp_arch_native();
  switch (native) {
    case SCMP_ARCH_X86_64: return "SCMP_ARCH_X86_64";
    case SCMP_ARCH_AARCH64: return "SCMP_ARCH_AARCH64";
    case SCMP_ARCH_X86: return "SCMP_ARCH_X86";
    case SCMP_ARCH_ARM: return "SCMP_ARCH_ARM";
    case SCMP_ARCH_PPC64LE: return "SCMP_ARCH_PPC64LE";
    case SCMP_ARCH_S390X: return "SCMP_ARCH_S390X";
    case SCMP_ARCH_RISCV64: return "SCMP_ARCH_RISCV64";
    default: return "SCMP_ARCH_NATIVE";
  }
}

SeccompTarget seccomp_target(uint64_t capabilities) {
  SeccompTarget t;
  t.caps = capability_names(capabilities);
  utsname u{};
  ::uname(&u);
  t.kernel = u.release;
  const std::string m = u.machine;
  // Go's names, which Docker's profiles use in includes/excludes.
  if (m == "x86_64") t.arch = "amd64";
  else if (m == "aarch64") t.arch = "arm64";
  else if (m == "i686" || m == "i386") t.arch = "386";
  else if (m.rfind("arm", 0) == 0) t.arch = "arm";
  else t.arch = m;  // ppc64le, s390x, riscv64 are spelled alike
  return t;
}

SeccompProgram compile_seccomp(const SeccompProfile& profile, const SeccompTarget& target) {
  const int default_errno = profile.default_errno.value_or(EPERM);
  const uint32_t default_action = scmp_action(profile.default_action, default_errno);
  SeccompCtx ctx(seccomp_init(default_action));
  if (!ctx) throw sys::Error("seccomp_init failed");
  // Loaded by nrun itself, after it has set no_new_privs (or not) as asked.
  check_scmp(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "seccomp attribute NNP");
  // A binary tree rather than a list keeps big allow-lists fast.
  if (profile.syscalls.size() > 32) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  const auto arches = profile.architectures.empty() ? default_arches(native_seccomp_arch()) : profile.architectures;
  for (const auto& a : arches) {
    const uint32_t token = arch_token(a);
    if (token == 0) {
      log::debug("seccomp: libseccomp does not know architecture '" + a + "', ignoring");
      continue;
    }
    const int rc = seccomp_arch_add(ctx.get(), token);
    if (rc < 0 && rc != -EEXIST) check_scmp(rc, "seccomp architecture '" + a + "'");
  }
  for (const auto& rule : applicable_rules(profile, target)) {
    const uint32_t action = scmp_action(rule.action, rule.errno_ret.value_or(default_errno));
    if (action == default_action) continue;  // libseccomp refuses a rule that changes nothing
    std::vector<scmp_arg_cmp> args;
    bool repeated = false;
    for (const auto& a : rule.args) {
      for (const auto& b : args) repeated |= b.arg == a.index;
      args.push_back(scmp_arg(a));
    }
    for (const auto& name : rule.names) {
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        log::debug("seccomp: libseccomp does not know system call '" + name + "', ignoring");
        continue;
      }
      if (!repeated) {
        add_rule(ctx.get(), action, nr, args, name);
      } else {
        for (const auto& one : args) add_rule(ctx.get(), action, nr, {one}, name);
      }
    }
  }
  SeccompProgram p;
  p.filter = export_bpf(ctx.get());
  if (p.filter.size() > BPF_MAXINSNS)
    throw sys::Error("seccomp filter of " + std::to_string(p.filter.size()) + " instructions is past the kernel's " +
                     std::to_string(BPF_MAXINSNS));
  for (const auto& f : profile.flags) {
    if (f == "SECCOMP_FILTER_FLAG_LOG") p.flags |= SECCOMP_FILTER_FLAG_LOG;
    if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") p.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  }
  return p;
}

namespace {
// Everything compile_seccomp's output depends on, as text.
std::string cache_key_text(const SeccompProfile& profile, const SeccompTarget& target) {
  const auto* v = seccomp_version();
  std::string k = "nrun-seccomp-1 libseccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                  std::to_string(v->micro) + " native " + native_seccomp_arch() + " default " +
                  std::to_string(static_cast<int>(profile.default_action)) + "/" +
                  std::to_string(profile.default_errno.value_or(EPERM)) + "\n";
  for (const auto& a : profile.architectures) k += "arch " + a + "\n";
  for (const auto& f : profile.flags) k += "flag " + f + "\n";
  for (const auto& r : applicable_rules(profile, target)) {
    k += "rule " + std::to_string(static_cast<int>(r.action)) + "/" + std::to_string(r.errno_ret.value_or(-1));
    for (const auto& n : r.names) k += " " + n;
    for (const auto& a : r.args)
      k += " [" + std::to_string(a.index) + " " + std::to_string(static_cast<int>(a.op)) + " " +
           std::to_string(a.value) + " " + std::to_string(a.value_two) + "]";
    k += "\n";
  }
  return k;
}

std::string fnv1a_hex(const std::string& s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

SeccompProgram compile_seccomp_cached(const SeccompProfile& profile, const SeccompTarget& target,
                                      const std::filesystem::path& cache_dir) {
  const std::string key = cache_key_text(profile, target);
  // The file holds the key text, a NUL, then the program: a hash collision
  // is caught by comparing the text.
  const auto file = cache_dir / ("seccomp-" + fnv1a_hex(key) + ".bpf");
  try {
    const std::string data = sys::read_file(file.string());
    const size_t nul = data.find('\0');
    if (nul != std::string::npos && data.compare(0, nul, key) == 0 && (data.size() - nul - 1) % sizeof(sock_filter) == 0) {
      SeccompProgram p;
      p.filter.resize((data.size() - nul - 1) / sizeof(sock_filter));
      std::memcpy(p.filter.data(), data.data() + nul + 1, data.size() - nul - 1);
      for (const auto& f : profile.flags) {
        if (f == "SECCOMP_FILTER_FLAG_LOG") p.flags |= SECCOMP_FILTER_FLAG_LOG;
        if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") p.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
      }
      if (!p.empty()) return p;
    }
  } catch (const std::exception&) {
    // Not cached yet (or unreadable): compile below.
  }
  SeccompProgram p = compile_seccomp(profile, target);
  try {
    std::filesystem::create_directories(cache_dir);
    std::string data = key;
    data.push_back('\0');
    data.append(reinterpret_cast<const char*>(p.filter.data()), p.filter.size() * sizeof(sock_filter));
    sys::write_file_atomic(file.string(), data, 0600, sys::Durability::none);
  } catch (const std::exception& e) {
    log::debug("seccomp cache " + file.string() + ": " + sys::describe(e) + ", ignoring");
  }
  return p;
}

void load_seccomp(const SeccompProgram& program) {
  if (program.empty()) return;
  sock_fprog prog{static_cast<unsigned short>(program.filter.size()), const_cast<sock_filter*>(program.filter.data())};
  sys::check(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog), "load seccomp filter");
}

}  // namespace nrun::runtime
