// Seccomp profiles: Docker's format parsed and checked, nrun's default
// profile's verdicts (evaluated in pure code), and the compiled filter
// loaded for real in a forked child (seccomp needs no root with
// no_new_privs).
#include "temp_dir.hpp"
#include "runtime/seccomp_profile.hpp"

#include <gtest/gtest.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "runtime/capabilities.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;
using nrun::sys::UsageError;

namespace {
// Docker's format with each feature nrun reads (a cut of moby's default).
constexpr const char* kDockerStyle = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
  ],
  "syscalls": [
    {"names": ["read", "write", "exit_group", "no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"},
    {"name": "getpid", "action": "SCMP_ACT_ALLOW"},
    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
     "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]
})";

SeccompTarget target(std::vector<std::string> caps = {}, std::string kernel = "6.1.0-18-amd64") {
  SeccompTarget t;
  t.caps = std::move(caps);
  t.arch = "amd64";
  t.kernel = std::move(kernel);
  return t;
}

SeccompVerdict verdict(const SeccompProfile& p, const SeccompTarget& t, const std::string& call,
                       std::array<uint64_t, 6> args = {}) {
  return evaluate_seccomp(p, applicable_rules(p, t), call, args);
}

const SeccompVerdict kAllow{SeccompAction::allow, 0};
const SeccompVerdict kEperm{SeccompAction::errno_ret, EPERM};
const SeccompVerdict kEnosys{SeccompAction::errno_ret, ENOSYS};

std::string with(const std::string& top) { return "{" + top + "}"; }
}  // namespace

TEST(SeccompProfile, ParsesDockersFormat) {
  const auto p = parse_seccomp_profile(kDockerStyle, "SCMP_ARCH_X86_64");
  EXPECT_EQ(p.default_action, SeccompAction::errno_ret);
  EXPECT_EQ(p.default_errno, 1);
  EXPECT_EQ(p.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  ASSERT_EQ(p.syscalls.size(), 9u);
  EXPECT_EQ(p.syscalls[1].names, std::vector<std::string>{"getpid"});  // the older "name"
  EXPECT_EQ(p.syscalls[2].includes.min_kernel, "4.8");
  ASSERT_EQ(p.syscalls[7].args.size(), 1u);
  EXPECT_EQ(p.syscalls[7].args[0], (SeccompArg{0, 2114060288, 0, SeccompOp::masked_eq}));
  EXPECT_EQ(p.syscalls[7].excludes.arches, (std::vector<std::string>{"s390", "s390x"}));
  EXPECT_EQ(p.syscalls[8].errno_ret, 38);
  const auto arm = parse_seccomp_profile(kDockerStyle, "SCMP_ARCH_AARCH64");
  EXPECT_EQ(arm.architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
}

TEST(SeccompProfile, DockersIncludesAndExcludes) {
  const auto p = parse_seccomp_profile(kDockerStyle);
  EXPECT_EQ(verdict(p, target(), "read"), kAllow);
  EXPECT_EQ(verdict(p, target(), "getpid"), kAllow);
  EXPECT_EQ(verdict(p, target(), "reboot"), (SeccompVerdict{SeccompAction::errno_ret, 1}));  // defaultErrnoRet
  // minKernel
  EXPECT_EQ(verdict(p, target({}, "6.1.0"), "ptrace"), kAllow);
  EXPECT_EQ(verdict(p, target({}, "4.4.0-210-generic"), "ptrace").action, SeccompAction::errno_ret);
  // caps: mount only with CAP_SYS_ADMIN; clone's flag filter lifted with it.
  EXPECT_EQ(verdict(p, target(), "mount").action, SeccompAction::errno_ret);
  EXPECT_EQ(verdict(p, target({"CAP_SYS_ADMIN"}), "mount"), kAllow);
  EXPECT_EQ(verdict(p, target(), "clone", {CLONE_VM | CLONE_THREAD}), kAllow);
  EXPECT_EQ(verdict(p, target(), "clone", {CLONE_NEWUSER}).action, SeccompAction::errno_ret);
  EXPECT_EQ(verdict(p, target({"CAP_SYS_ADMIN"}), "clone3"), (SeccompVerdict{SeccompAction::errno_ret, 1}));
  EXPECT_EQ(verdict(p, target(), "clone3"), kEnosys);
  // args
  EXPECT_EQ(verdict(p, target(), "socket", {2}), kAllow);
  EXPECT_EQ(verdict(p, target(), "socket", {40}).action, SeccompAction::errno_ret);
  // arches
  EXPECT_EQ(verdict(p, target(), "arch_prctl"), kAllow);
  auto arm = target();
  arm.arch = "arm64";
  EXPECT_EQ(verdict(p, arm, "arch_prctl").action, SeccompAction::errno_ret);
}

TEST(SeccompProfile, RejectsWhatItCannotApply) {
  EXPECT_THROW(parse_seccomp_profile("{"), UsageError);
  EXPECT_THROW(parse_seccomp_profile("[]"), UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("syscalls": [])")), UsageError);  // no defaultAction
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_MAYBE")")), UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_NOTIFY")")), UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"])")),
               UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"])")),
               UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}])")),
               UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}])")),
               UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}])")),
               UsageError);
  EXPECT_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}])")),
               UsageError);
  EXPECT_NO_THROW(parse_seccomp_profile(with(R"("defaultAction": "SCMP_ACT_ALLOW", "syscalls": null)")));
}

TEST(SeccompProfile, DefaultRefusesTheDenyList) {
  const auto p = default_seccomp_profile();
  const auto t = target({"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID"});
  for (const char* call : {"mount", "umount2", "pivot_root", "kexec_load", "kexec_file_load", "open_by_handle_at",
                           "keyctl", "add_key", "request_key", "bpf", "reboot", "swapon", "swapoff", "init_module",
                           "finit_module", "delete_module", "acct", "settimeofday", "clock_settime", "userfaultfd",
                           "perf_event_open", "setns", "io_uring_setup", "fsopen", "open_tree", "move_mount"})
    EXPECT_EQ(verdict(p, t, call), kEperm) << call;
  for (const char* call : {"read", "openat", "execve", "ptrace", "socket", "mknodat", "chroot", "close_range"})
    EXPECT_EQ(verdict(p, t, call), kAllow) << call;
  EXPECT_EQ(verdict(p, t, "clone3"), kEnosys);
}

TEST(SeccompProfile, DefaultFiltersNamespaceFlags) {
  const auto p = default_seccomp_profile();
  const auto plain = target();
  const auto admin = target({"CAP_SYS_ADMIN"});
  const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  EXPECT_EQ(verdict(p, plain, "clone", {thread}), kAllow);
  EXPECT_EQ(verdict(p, plain, "clone", {SIGCHLD}), kAllow);
  EXPECT_EQ(verdict(p, plain, "unshare", {CLONE_FILES | CLONE_FS}), kAllow);
  for (uint64_t ns : {CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP}) {
    EXPECT_EQ(verdict(p, plain, "clone", {ns | SIGCHLD}), kEperm) << ns;
    EXPECT_EQ(verdict(p, plain, "unshare", {ns}), kEperm) << ns;
    EXPECT_EQ(verdict(p, admin, "unshare", {ns}), kAllow) << ns;  // as Docker's
  }
  EXPECT_EQ(verdict(p, plain, "unshare", {CLONE_NEWTIME}), kEperm);
  // A new user namespace: never, even with CAP_SYS_ADMIN.
  EXPECT_EQ(verdict(p, admin, "unshare", {CLONE_NEWUSER}), kEperm);
  EXPECT_EQ(verdict(p, admin, "clone", {CLONE_NEWUSER | SIGCHLD}), kEperm);
  EXPECT_EQ(verdict(p, admin, "mount"), kAllow);
  EXPECT_EQ(verdict(p, admin, "clone3"), kEnosys);
}

TEST(SeccompProfile, DefaultAllowsOnlyDockersPersonalities) {
  const auto p = default_seccomp_profile();
  const auto t = target();
  for (uint64_t ok : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL})
    EXPECT_EQ(verdict(p, t, "personality", {ok}), kAllow) << std::hex << ok;
  for (uint64_t bad : {0x0040000ULL /* ADDR_NO_RANDOMIZE */, 0x0400000ULL /* READ_IMPLIES_EXEC */,
                       0x0100000ULL /* MMAP_PAGE_ZERO */, 0x0040008ULL, 0x00400ffULL, 0xfffffffeULL, 0x1ULL,
                       0x10ULL, 0x80ULL, 0x7fULL, 0xffULL, 0x1ffffffffULL, 0x100ULL, 0x80000000ULL, 0x8000000fULL})
    EXPECT_EQ(verdict(p, t, "personality", {bad}), kEperm) << std::hex << bad;
  // Exhaustively over the low 18 bits: exactly the allowed ones pass.
  const auto rules = applicable_rules(p, t);
  for (uint64_t v = 0; v < (1u << 18); ++v) {
    const bool allowed = v == 0 || v == 8 || v == 0x20000 || v == 0x20008;
    ASSERT_EQ(evaluate_seccomp(p, rules, "personality", {v}) == kAllow, allowed) << std::hex << v;
  }
}

TEST(SeccompProfile, PtraceOnlyFromLinux48) {
  const auto p = default_seccomp_profile();
  EXPECT_EQ(verdict(p, target({}, "4.8.0"), "ptrace"), kAllow);
  EXPECT_EQ(verdict(p, target({}, "4.4.0-210-generic"), "ptrace"), kEperm);
  EXPECT_EQ(verdict(p, target({"CAP_SYS_PTRACE"}, "4.4.0"), "ptrace"), kAllow);
}

TEST(SeccompProfile, KernelVersions) {
  EXPECT_TRUE(kernel_at_least("6.1.0-18-amd64", "4.8"));
  EXPECT_TRUE(kernel_at_least("4.8", "4.8"));
  EXPECT_TRUE(kernel_at_least("4.10.0", "4.8"));
  EXPECT_FALSE(kernel_at_least("4.4.0", "4.8"));
  EXPECT_FALSE(kernel_at_least("3.19", "4.8"));
  EXPECT_FALSE(kernel_at_least("garbage", "4.8"));
  EXPECT_TRUE(kernel_at_least("5", "4.8"));
}

// ----------------------------------------------------- compiled and loaded

namespace {
// Runs `fn` in a child with `program` loaded (no_new_privs set first, as
// nrun does); returns fn's exit code.
int in_filtered_child(const SeccompProgram& program, int (*fn)()) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    try {
      load_seccomp(program);
    } catch (...) {
      ::_exit(101);
    }
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

int errno_of(long rc) { return rc < 0 ? errno : 0; }
}  // namespace

TEST(Seccomp, DefaultProfileCompiledAndLoaded) {
  const auto program = compile_seccomp(default_seccomp_profile(), seccomp_target(default_capabilities()));
  ASSERT_FALSE(program.empty());
  EXPECT_LE(program.filter.size(), 4096u);
  EXPECT_EQ(in_filtered_child(program, [] {
              return errno_of(::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
            }),
            EPERM);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::unshare(CLONE_NEWUSER)); }), EPERM);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_clone3, nullptr, 0)); }), ENOSYS);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_personality, 0x0040000UL)); }), EPERM);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_personality, 0xffffffffUL)); }), 0);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_getppid)); }), 0);
  EXPECT_EQ(in_filtered_child(program, [] {
              const pid_t c = ::fork();  // glibc's fork is clone(SIGCHLD|...)
              if (c == 0) ::_exit(7);
              int st = 0;
              ::waitpid(c, &st, 0);
              return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 1;
            }),
            0);
}

TEST(Seccomp, DockerStyleProfileSkipsUnknownCallsAndDefaultsToItsErrno) {
  SeccompProfile p = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["getppid", "no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["dup3"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 2, "op": "SCMP_CMP_EQ"}]}
    ]})",
                                           native_seccomp_arch());
  const auto program = compile_seccomp(p, seccomp_target(0));
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_getppid)); }), EACCES);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_getpgid, 0)); }), EPERM);
  // Two conditions on one argument: either matches (runc's reading).
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_dup3, 0, 100, 1)); }), EPERM);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_dup3, 0, 100, 2)); }), EPERM);
  EXPECT_EQ(in_filtered_child(program, [] { return errno_of(::syscall(SYS_dup3, 0, 100, 0)); }), 0);
}

TEST(Seccomp, CacheReturnsTheSameProgram) {
  const nrun::test::TempDir tmp("nrun-seccomp-cache");
  const std::filesystem::path& dir = tmp.path();
  const auto profile = default_seccomp_profile();
  const auto t = seccomp_target(default_capabilities());
  const auto first = compile_seccomp_cached(profile, t, dir / "cache");
  const auto second = compile_seccomp_cached(profile, t, dir / "cache");
  const auto fresh = compile_seccomp(profile, t);
  ASSERT_EQ(first.filter.size(), fresh.filter.size());
  ASSERT_EQ(second.filter.size(), fresh.filter.size());
  EXPECT_EQ(std::memcmp(second.filter.data(), fresh.filter.data(), fresh.filter.size() * sizeof(sock_filter)), 0);
  // Another capability set is another program.
  const auto admin = compile_seccomp_cached(profile, seccomp_target(default_capabilities() | (1ULL << 21)), dir / "cache");
  EXPECT_NE(admin.filter.size(), fresh.filter.size());
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir / "cache")) ++files;
  EXPECT_EQ(files, 2u);
}
