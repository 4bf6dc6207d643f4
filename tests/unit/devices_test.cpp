#include "runtime/devices.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <optional>

#include "runtime/sys/error.hpp"

using namespace nrun::runtime;

namespace {
// A tiny interpreter for the subset of eBPF the device program uses, so
// the program's verdicts are tested without loading it (that needs root
// and cgroup v2).
int run(const std::vector<bpf_insn>& prog, uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
  const uint32_t ctx[3] = {(access << 16) | type, major, minor};
  uint64_t r[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    // The kernel's verifier refuses reserved fields set ("uses reserved fields").
    if (BPF_CLASS(i.code) == BPF_ALU || BPF_CLASS(i.code) == BPF_ALU64) {
      EXPECT_EQ(i.off, 0) << "insn " << pc;
      if (BPF_SRC(i.code) == BPF_K) EXPECT_EQ(i.src_reg, 0) << "insn " << pc;
    }
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM: r[i.dst_reg] = ctx[i.off / 4]; break;  // only ever from r1 = ctx
      case BPF_ALU64 | BPF_MOV | BPF_X: r[i.dst_reg] = r[i.src_reg]; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
      case BPF_ALU | BPF_AND | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) & static_cast<uint32_t>(i.imm); break;
      case BPF_ALU | BPF_RSH | BPF_K: r[i.dst_reg] = static_cast<uint32_t>(r[i.dst_reg]) >> i.imm; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (r[i.dst_reg] != static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(r[0]);
      default: ADD_FAILURE() << "unexpected opcode " << int(i.code); return -1;
    }
  }
  ADD_FAILURE() << "fell off the end";
  return -1;
}

constexpr uint32_t kChar = BPF_DEVCG_DEV_CHAR, kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t kR = BPF_DEVCG_ACC_READ, kW = BPF_DEVCG_ACC_WRITE, kM = BPF_DEVCG_ACC_MKNOD;
}  // namespace

TEST(Devices, V1LinesDenyAllThenAllowTheDefaults) {
  const auto w = device_cgroup_v1_writes(default_device_rules());
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(w.front(), (std::pair<std::string, std::string>{"devices.deny", "a"}));
  std::vector<std::string> allowed;
  for (size_t i = 1; i < w.size(); ++i) {
    EXPECT_EQ(w[i].first, "devices.allow");
    allowed.push_back(w[i].second);
  }
  EXPECT_EQ(allowed, (std::vector<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                                               "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                                               "c 136:* rwm"}));
}

TEST(Devices, V2ProgramAllowsTheDefaultsOnly) {
  const auto prog = device_cgroup_v2_program(default_device_rules());
  EXPECT_EQ(run(prog, kChar, kR | kW, 1, 3), 1);    // /dev/null
  EXPECT_EQ(run(prog, kChar, kR | kW, 1, 9), 1);    // /dev/urandom
  EXPECT_EQ(run(prog, kChar, kR | kW, 136, 7), 1);  // a pty slave
  EXPECT_EQ(run(prog, kChar, kR, 5, 2), 1);         // ptmx
  EXPECT_EQ(run(prog, kBlock, kM, 8, 0), 1);        // mknod of a disk ...
  EXPECT_EQ(run(prog, kBlock, kR, 8, 0), 0);        // ... but not reading it
  EXPECT_EQ(run(prog, kBlock, kW, 253, 0), 0);
  EXPECT_EQ(run(prog, kChar, kR, 1, 1), 0);         // /dev/mem
  EXPECT_EQ(run(prog, kChar, kR | kW, 10, 200), 0); // tun
  EXPECT_EQ(run(prog, kChar, kM, 1, 1), 1);
  EXPECT_EQ(run(prog, kChar, kM | kR, 1, 1), 0);
}

TEST(Devices, V2ProgramRules) {
  EXPECT_EQ(run(device_cgroup_v2_program({}), kChar, kR, 1, 3), 0);
  const auto all = device_cgroup_v2_program({{'a', -1, -1, "rwm"}});
  EXPECT_EQ(run(all, kBlock, kR | kW | kM, 8, 0), 1);
  const auto ro = device_cgroup_v2_program({{'b', 8, -1, "r"}});
  EXPECT_EQ(run(ro, kBlock, kR, 8, 16), 1);
  EXPECT_EQ(run(ro, kBlock, kW, 8, 16), 0);
  EXPECT_EQ(run(ro, kChar, kR, 8, 16), 0);
  EXPECT_EQ(run(ro, kBlock, kR, 9, 16), 0);
}

TEST(Devices, V2ProgramPassesTheKernelsVerifier) {
  // Loading needs CAP_BPF or CAP_SYS_ADMIN, but not cgroup v2.
  try {
    const auto fd = load_device_program(default_device_rules());
    EXPECT_TRUE(fd);
    const auto narrow = load_device_program({{'b', 8, -1, "r"}, {'c', 1, 3, "rw"}});
    EXPECT_TRUE(narrow);
  } catch (const nrun::sys::SysError& e) {
    if (e.err() == EPERM) GTEST_SKIP() << "no CAP_BPF here";
    FAIL() << e.what();
  }
}

TEST(Devices, RuleLines) {
  EXPECT_EQ(device_rule_line({'c', 1, 3, "rwm"}), "c 1:3 rwm");
  EXPECT_EQ(device_rule_line({'b', -1, -1, "m"}), "b *:* m");
  EXPECT_EQ(device_rule_line({'c', 136, -1, "rw"}), "c 136:* rw");
  EXPECT_EQ(device_rule_line({'a', -1, -1, "rwm"}), "a");
}
