#include "runtime/seccomp_profile.hpp"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "runtime/sys/error.hpp"

namespace nrun::runtime {
using nlohmann::json;
using sys::UsageError;

namespace {
constexpr std::pair<const char*, SeccompAction> kActions[] = {
    {"SCMP_ACT_ALLOW", SeccompAction::allow},          {"SCMP_ACT_ERRNO", SeccompAction::errno_ret},
    {"SCMP_ACT_KILL", SeccompAction::kill_thread},     {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process}, {"SCMP_ACT_TRAP", SeccompAction::trap},
    {"SCMP_ACT_TRACE", SeccompAction::trace},          {"SCMP_ACT_LOG", SeccompAction::log}};

constexpr std::pair<const char*, SeccompOp> kOps[] = {
    {"SCMP_CMP_NE", SeccompOp::ne}, {"SCMP_CMP_LT", SeccompOp::lt}, {"SCMP_CMP_LE", SeccompOp::le},
    {"SCMP_CMP_EQ", SeccompOp::eq}, {"SCMP_CMP_GE", SeccompOp::ge}, {"SCMP_CMP_GT", SeccompOp::gt},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_eq}};

constexpr const char* kFlags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};

// Docker's rank of actions when several rules match (libseccomp's too).
int severity(SeccompAction a) {
  switch (a) {
    case SeccompAction::kill_process: return 6;
    case SeccompAction::kill_thread: return 5;
    case SeccompAction::trap: return 4;
    case SeccompAction::errno_ret: return 3;
    case SeccompAction::trace: return 2;
    case SeccompAction::log: return 1;
    case SeccompAction::allow: return 0;
  }
  return 0;
}

SeccompAction parse_action(const std::string& s) {
  for (const auto& [name, a] : kActions)
    if (s == name) return a;
  if (s == "SCMP_ACT_NOTIFY") throw UsageError("seccomp profile: SCMP_ACT_NOTIFY needs a listener, which nrun does not run");
  throw UsageError("seccomp profile: unknown action '" + s + "'");
}

template <class T>
T get_field(const json& j, const char* key, const std::string& where) {
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw UsageError("seccomp profile: " + where + ": '" + key + "' is missing or of the wrong type");
  }
}

std::vector<std::string> string_list(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j.at(key).is_null()) return {};
  return get_field<std::vector<std::string>>(j, key, where);
}

// Only the form is checked: libseccomp may know more architectures than
// nrun has heard of; the compiler skips those it does not know.
void check_arch(const std::string& a) {
  if (a.rfind("SCMP_ARCH_", 0) != 0 || a.size() == 10)
    throw UsageError("seccomp profile: unknown architecture '" + a + "' (SCMP_ARCH_...)");
}

SeccompCondition parse_condition(const json& j, const std::string& where) {
  SeccompCondition c;
  if (j.is_null()) return c;
  if (!j.is_object()) throw UsageError("seccomp profile: " + where + " must be an object");
  c.caps = string_list(j, "caps", where);
  c.arches = string_list(j, "arches", where);
  if (j.contains("minKernel") && !j.at("minKernel").is_null()) c.min_kernel = get_field<std::string>(j, "minKernel", where);
  return c;
}

SeccompRule parse_rule(const json& j, size_t i) {
  const std::string where = "syscalls[" + std::to_string(i) + "]";
  if (!j.is_object()) throw UsageError("seccomp profile: " + where + " must be an object");
  SeccompRule r;
  r.names = string_list(j, "names", where);
  if (j.contains("name") && !j.at("name").is_null()) r.names.push_back(get_field<std::string>(j, "name", where));
  if (r.names.empty()) throw UsageError("seccomp profile: " + where + " names no system call");
  for (const auto& n : r.names)
    if (n.empty()) throw UsageError("seccomp profile: " + where + " has an empty system call name");
  r.action = parse_action(get_field<std::string>(j, "action", where));
  if (j.contains("errnoRet") && !j.at("errnoRet").is_null()) r.errno_ret = get_field<int>(j, "errnoRet", where);
  if (j.contains("args") && !j.at("args").is_null()) {
    for (const auto& a : j.at("args")) {
      SeccompArg arg;
      arg.index = get_field<unsigned>(a, "index", where + ".args");
      if (arg.index > 5) throw UsageError("seccomp profile: " + where + ": argument index " + std::to_string(arg.index) + " (0 to 5)");
      arg.value = a.contains("value") ? get_field<uint64_t>(a, "value", where + ".args") : 0;
      arg.value_two = a.contains("valueTwo") ? get_field<uint64_t>(a, "valueTwo", where + ".args") : 0;
      const std::string op = get_field<std::string>(a, "op", where + ".args");
      const auto it = std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& p) { return op == p.first; });
      if (it == std::end(kOps)) throw UsageError("seccomp profile: " + where + ": unknown operator '" + op + "'");
      arg.op = it->second;
      r.args.push_back(arg);
    }
  }
  if (j.contains("includes")) r.includes = parse_condition(j.at("includes"), where + ".includes");
  if (j.contains("excludes")) r.excludes = parse_condition(j.at("excludes"), where + ".excludes");
  return r;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool arg_matches(const SeccompArg& a, uint64_t v) {
  switch (a.op) {
    case SeccompOp::ne: return v != a.value;
    case SeccompOp::lt: return v < a.value;
    case SeccompOp::le: return v <= a.value;
    case SeccompOp::eq: return v == a.value;
    case SeccompOp::ge: return v >= a.value;
    case SeccompOp::gt: return v > a.value;
    case SeccompOp::masked_eq: return (v & a.value) == a.value_two;
  }
  return false;
}

// --------------------------------------------------------- default profile

SeccompRule deny(std::vector<std::string> names, std::vector<std::string> unless_caps = {}) {
  SeccompRule r;
  r.names = std::move(names);
  r.action = SeccompAction::errno_ret;
  r.errno_ret = EPERM;
  r.excludes.caps = std::move(unless_caps);
  return r;
}

SeccompRule deny_masked(const std::string& name, uint64_t mask, uint64_t value) {
  SeccompRule r = deny({name});
  r.args = {{0, mask, value, SeccompOp::masked_eq}};
  return r;
}

// personality(2): only PER_LINUX and PER_LINUX32, each with or without
// UNAME26, and the query 0xffffffff, as Docker's profile allows. Each
// libseccomp rule compares an argument once, so "anything else" is spelled
// as rules that each catch one kind of odd value.
void add_personality_rules(std::vector<SeccompRule>& out) {
  constexpr uint64_t kTypeHigh = 0x80;  // bit 7 of the persona type (low byte)
  constexpr int kUname26Bit = 17;       // UNAME26 = 0x0020000
  SeccompRule wide = deny({"personality"});
  wide.args = {{0, 0xffffffffULL, 0, SeccompOp::gt}};  // bits past 32
  out.push_back(wide);
  for (int k = 0; k < 7; ++k) {
    // Types with bit 7 clear: only 0 and 8 (PER_LINUX32 = bit 3).
    if (k != 3) out.push_back(deny_masked("personality", kTypeHigh | (1ULL << k), 1ULL << k));
    // Types with bit 7 set: only 0xff, the query's.
    out.push_back(deny_masked("personality", kTypeHigh | (1ULL << k), kTypeHigh));
  }
  for (int k = 8; k < 32; ++k) {
    // The type 0xff only as the query: every flag bit set.
    out.push_back(deny_masked("personality", 0xffULL | (1ULL << k), 0xff));
    // Types 0 and 8: no flag but UNAME26 (ADDR_NO_RANDOMIZE,
    // READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ... refused).
    if (k != kUname26Bit) out.push_back(deny_masked("personality", kTypeHigh | (1ULL << k), 1ULL << k));
  }
}
}  // namespace

SeccompProfile parse_seccomp_profile(const std::string& text, const std::string& native_arch) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw UsageError(std::string("seccomp profile is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw UsageError("seccomp profile must be a JSON object");
  SeccompProfile p;
  p.default_action = parse_action(get_field<std::string>(j, "defaultAction", "top level"));
  if (j.contains("defaultErrnoRet") && !j.at("defaultErrnoRet").is_null())
    p.default_errno = get_field<int>(j, "defaultErrnoRet", "top level");
  p.architectures = string_list(j, "architectures", "top level");
  if (j.contains("archMap") && !j.at("archMap").is_null()) {
    if (!p.architectures.empty())
      throw UsageError("seccomp profile: 'architectures' and 'archMap' cannot both be given");
    for (const auto& m : j.at("archMap")) {
      const auto arch = get_field<std::string>(m, "architecture", "archMap");
      check_arch(arch);
      if (arch != native_arch) continue;
      p.architectures.push_back(arch);
      for (const auto& sub : string_list(m, "subArchitectures", "archMap")) p.architectures.push_back(sub);
    }
  }
  for (const auto& a : p.architectures) check_arch(a);
  p.flags = string_list(j, "flags", "top level");
  for (const auto& f : p.flags)
    if (std::find(std::begin(kFlags), std::end(kFlags), f) == std::end(kFlags))
      throw UsageError("seccomp profile: unknown flag '" + f + "'");
  if (j.contains("listenerPath") && !j.at("listenerPath").get<std::string>().empty())
    throw UsageError("seccomp profile: a listenerPath needs a notify listener, which nrun does not run");
  if (j.contains("syscalls") && !j.at("syscalls").is_null()) {
    if (!j.at("syscalls").is_array()) throw UsageError("seccomp profile: 'syscalls' must be an array");
    size_t i = 0;
    for (const auto& r : j.at("syscalls")) p.syscalls.push_back(parse_rule(r, i++));
  }
  return p;
}

SeccompProfile default_seccomp_profile() {
  SeccompProfile p;
  p.default_action = SeccompAction::allow;
  auto& r = p.syscalls;
  // Not namespaced, or a way out: refused whatever the capabilities.
  r.push_back(deny({"kexec_load", "kexec_file_load", "keyctl", "add_key", "request_key", "nfsservctl", "_sysctl",
                    "uselib", "vm86", "vm86old", "lookup_dcookie", "io_uring_setup", "io_uring_enter",
                    "io_uring_register", "create_module", "get_kernel_syms", "query_module"}));
  // Refused unless the container was given the capability that guards them.
  r.push_back(deny({"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
                    "move_mount", "open_tree", "mount_setattr", "setns", "swapon", "swapoff", "quotactl",
                    "quotactl_fd", "fanotify_init"},
                   {"CAP_SYS_ADMIN"}));
  r.push_back(deny({"bpf"}, {"CAP_SYS_ADMIN", "CAP_BPF"}));
  r.push_back(deny({"perf_event_open"}, {"CAP_SYS_ADMIN", "CAP_PERFMON"}));
  r.push_back(deny({"init_module", "finit_module", "delete_module"}, {"CAP_SYS_MODULE"}));
  r.push_back(deny({"reboot"}, {"CAP_SYS_BOOT"}));
  r.push_back(deny({"acct"}, {"CAP_SYS_PACCT"}));
  r.push_back(deny({"settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
                    "clock_adjtime64"},
                   {"CAP_SYS_TIME"}));
  r.push_back(deny({"iopl", "ioperm"}, {"CAP_SYS_RAWIO"}));
  r.push_back(deny({"syslog"}, {"CAP_SYSLOG"}));
  r.push_back(deny({"open_by_handle_at"}, {"CAP_DAC_READ_SEARCH"}));
  r.push_back(deny({"userfaultfd"}, {"CAP_SYS_PTRACE"}));
  // ptrace could bypass seccomp before Linux 4.8.
  SeccompRule ptrace = deny({"ptrace"}, {"CAP_SYS_PTRACE"});
  ptrace.excludes.min_kernel = "4.8";
  r.push_back(ptrace);
  // clone3 takes its flags in a struct seccomp cannot read: ENOSYS makes
  // glibc fall back to clone, whose flags can be filtered.
  SeccompRule clone3;
  clone3.names = {"clone3"};
  clone3.action = SeccompAction::errno_ret;
  clone3.errno_ret = ENOSYS;
  r.push_back(clone3);
  // A new user namespace is where unprivileged kernel attack surface opens
  // up: refused always. Other namespaces need CAP_SYS_ADMIN anyway.
  // (s390 passes clone's flags second; its rules are left out.)
  for (const char* call : {"clone", "unshare"}) {
    SeccompRule user_ns = deny_masked(call, CLONE_NEWUSER, CLONE_NEWUSER);
    if (std::string(call) == "clone") user_ns.excludes.arches = {"s390", "s390x"};
    r.push_back(user_ns);
    for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET}) {
      SeccompRule ns = deny_masked(call, flag, flag);
      ns.excludes.caps = {"CAP_SYS_ADMIN"};
      if (std::string(call) == "clone") ns.excludes.arches = {"s390", "s390x"};
      r.push_back(ns);
    }
  }
  SeccompRule time_ns = deny_masked("unshare", CLONE_NEWTIME, CLONE_NEWTIME);
  time_ns.excludes.caps = {"CAP_SYS_ADMIN"};
  r.push_back(time_ns);
  add_personality_rules(r);
  return p;
}

bool kernel_at_least(const std::string& release, const std::string& min) {
  auto parse = [](const std::string& s) {
    std::array<int, 2> v{-1, -1};
    size_t pos = 0;
    for (int i = 0; i < 2 && pos < s.size(); ++i) {
      size_t end = pos;
      while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
      if (end == pos) break;
      v[i] = std::stoi(s.substr(pos, end - pos));
      pos = end + 1;
      if (end >= s.size() || s[end] != '.') break;
    }
    if (v[1] < 0 && v[0] >= 0) v[1] = 0;
    return v;
  };
  const auto have = parse(release), want = parse(min);
  if (have[0] < 0 || want[0] < 0) return false;
  return have >= want;
}

std::vector<SeccompRule> applicable_rules(const SeccompProfile& p, const SeccompTarget& t) {
  std::vector<SeccompRule> out;
  for (SeccompRule r : p.syscalls) {
    const auto& ex = r.excludes;
    if (std::any_of(ex.arches.begin(), ex.arches.end(), [&](const auto& a) { return a == t.arch; })) continue;
    if (std::any_of(ex.caps.begin(), ex.caps.end(), [&](const auto& c) { return contains(t.caps, c); })) continue;
    if (!ex.min_kernel.empty() && kernel_at_least(t.kernel, ex.min_kernel)) continue;
    const auto& in = r.includes;
    if (!in.arches.empty() && !contains(in.arches, t.arch)) continue;
    if (!std::all_of(in.caps.begin(), in.caps.end(), [&](const auto& c) { return contains(t.caps, c); })) continue;
    if (!in.min_kernel.empty() && !kernel_at_least(t.kernel, in.min_kernel)) continue;
    if (r.action == SeccompAction::errno_ret && !r.errno_ret) r.errno_ret = p.default_errno.value_or(EPERM);
    r.includes = {};
    r.excludes = {};
    out.push_back(std::move(r));
  }
  return out;
}

SeccompVerdict evaluate_seccomp(const SeccompProfile& p, const std::vector<SeccompRule>& rules,
                                const std::string& syscall, const std::array<uint64_t, 6>& args) {
  std::optional<SeccompVerdict> best;
  for (const auto& r : rules) {
    if (!contains(r.names, syscall)) continue;
    // Several conditions on one argument: one rule each (ORed); the rest ANDed.
    bool repeated = false;
    for (size_t i = 0; i < r.args.size(); ++i)
      for (size_t k = i + 1; k < r.args.size(); ++k) repeated |= r.args[i].index == r.args[k].index;
    bool match;
    if (repeated)
      match = std::any_of(r.args.begin(), r.args.end(), [&](const auto& a) { return arg_matches(a, args[a.index]); });
    else
      match = std::all_of(r.args.begin(), r.args.end(), [&](const auto& a) { return arg_matches(a, args[a.index]); });
    if (!match) continue;
    SeccompVerdict v{r.action, r.action == SeccompAction::errno_ret || r.action == SeccompAction::trace
                                   ? r.errno_ret.value_or(p.default_errno.value_or(EPERM))
                                   : 0};
    if (!best || severity(v.action) > severity(best->action)) best = v;
  }
  if (best) return *best;
  return {p.default_action, p.default_action == SeccompAction::errno_ret ? p.default_errno.value_or(EPERM) : 0};
}

}  // namespace nrun::runtime
