#include "runtime/devices.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

std::vector<DeviceRule> default_device_rules() {
  return {
      {'c', -1, -1, "m"},  {'b', -1, -1, "m"},   // mknod of anything; using it is another matter
      {'c', 1, 3, "rwm"},  {'c', 1, 5, "rwm"},   // null, zero
      {'c', 1, 7, "rwm"},  {'c', 1, 8, "rwm"},   // full, random
      {'c', 1, 9, "rwm"},  {'c', 5, 0, "rwm"},   // urandom, tty
      {'c', 5, 1, "rwm"},  {'c', 5, 2, "rwm"},   // console, ptmx
      {'c', 136, -1, "rwm"},                     // pty slaves
  };
}

std::string device_rule_line(const DeviceRule& r) {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  if (r.type == 'a') return "a";
  return std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + r.access;
}

std::vector<std::pair<std::string, std::string>> device_cgroup_v1_writes(const std::vector<DeviceRule>& allow) {
  std::vector<std::pair<std::string, std::string>> w{{"devices.deny", "a"}};
  for (const auto& r : allow) w.emplace_back("devices.allow", device_rule_line(r));
  return w;
}

namespace {
// Raw eBPF instructions (linux/filter.h has the macros only in the kernel).
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn and_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm); }
bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t access_bits(const std::string& access) {
  int32_t bits = 0;
  for (char c : access) {
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
  }
  return bits;
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

void attach_device_program(const fs::path& cgroup_dir, const std::vector<DeviceRule>& allow) {
  sys::Fd prog_fd = load_device_program(allow);
  sys::Fd dir = sys::open_path(cgroup_dir.string(), O_RDONLY | O_DIRECTORY);
  bpf_attr attach{};
  attach.target_fd = static_cast<uint32_t>(dir.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(prog_fd.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;  // programs of parent cgroups still run
  if (sys_bpf(BPF_PROG_ATTACH, &attach) < 0) {
    const int e = errno;
    throw sys::SysError(e, "attach the device cgroup program to '" + cgroup_dir.string() + "'");
  }
  // The attachment holds the program for as long as the cgroup lives.
}
}  // namespace

sys::Fd load_device_program(const std::vector<DeviceRule>& allow) {
  const auto prog = device_cgroup_v2_program(allow);
  static const char kLicense[] = "GPL";
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(kLicense);
  const long fd = sys_bpf(BPF_PROG_LOAD, &load);
  if (fd < 0) {
    const int e = errno;
    throw sys::SysError(e, "load the device cgroup program");
  }
  return sys::Fd(static_cast<int>(fd));
}

std::vector<bpf_insn> device_cgroup_v2_program(const std::vector<DeviceRule>& allow) {
  // r1 = struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
  // r2 = access (high 16 bits of access_type), r3 = type (low 16 bits),
  // r4 = major, r5 = minor.
  std::vector<bpf_insn> p{
      load_u32(BPF_REG_2, BPF_REG_1, 0), mov_reg(BPF_REG_3, BPF_REG_2), and_imm(BPF_REG_3, 0xffff),
      rsh_imm(BPF_REG_2, 16),            load_u32(BPF_REG_4, BPF_REG_1, 4), load_u32(BPF_REG_5, BPF_REG_1, 8),
  };
  for (const auto& r : allow) {
    // Each rule is a block of checks that jump past its end on a mismatch
    // and otherwise fall into "return 1".
    std::vector<bpf_insn> checks;
    if (r.type == 'c' || r.type == 'b')
      checks.push_back(jne_imm(BPF_REG_3, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
    const int32_t bits = access_bits(r.access);
    if (bits != kAllAccess) {
      // (access & ~bits) != 0: the request wants more than the rule gives.
      checks.push_back(mov_reg(BPF_REG_1, BPF_REG_2));
      checks.push_back(and_imm(BPF_REG_1, ~bits & kAllAccess));
      checks.push_back(jne_imm(BPF_REG_1, 0, 0));
    }
    if (r.major >= 0) checks.push_back(jne_imm(BPF_REG_4, static_cast<int32_t>(r.major), 0));
    if (r.minor >= 0) checks.push_back(jne_imm(BPF_REG_5, static_cast<int32_t>(r.minor), 0));
    const int block = static_cast<int>(checks.size()) + 2;  // + mov r0, exit
    for (int i = 0; i < static_cast<int>(checks.size()); ++i)
      if (BPF_CLASS(checks[i].code) == BPF_JMP) checks[i].off = static_cast<int16_t>(block - i - 1);
    p.insert(p.end(), checks.begin(), checks.end());
    p.push_back(mov_imm(BPF_REG_0, 1));
    p.push_back(exit_insn());
  }
  p.push_back(mov_imm(BPF_REG_0, 0));
  p.push_back(exit_insn());
  return p;
}

void restrict_devices(const std::vector<std::string>& cgroup_dirs, const std::vector<DeviceRule>& allow) {
  for (const auto& d : cgroup_dirs) {
    const fs::path dir(d);
    if (::access((dir / "devices.allow").c_str(), F_OK) == 0) {
      for (const auto& [file, line] : device_cgroup_v1_writes(allow)) {
        try {
          sys::write_file((dir / file).string(), line);
        } catch (const sys::SysError& e) {
          throw sys::SysError(e.err(), "device cgroup: write '" + line + "' to " + (dir / file).string());
        }
      }
    } else if (::access((dir / "cgroup.controllers").c_str(), F_OK) == 0) {
      attach_device_program(dir, allow);
    }
  }
}

std::vector<HostDevice> host_devices(const std::string& dev) {
  static const std::set<std::string> kSkipDirs = {"pts", "shm", "mqueue", "fd", ".lxc", ".lxd-mounts", ".udev"};
  static const std::set<std::string> kSkip = {"console", "ptmx", "null", "zero", "full",
                                              "random",  "urandom", "tty"};
  std::vector<HostDevice> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dev, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Lexically: fs::relative would resolve symlinks such as /dev/stderr.
    const std::string rel = it->path().lexically_relative(dev).string();
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (kSkipDirs.count(it->path().filename().string())) it.disable_recursion_pending();
      continue;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
    if (kSkip.count(rel)) continue;
    out.push_back({rel, st.st_mode, st.st_rdev, st.st_uid, st.st_gid});
  }
  return out;
}

}  // namespace nrun::runtime
