// Sizes, CPU counts and CPU lists as users write them; the checks of a
// whole set of limits; the conversions for the kernel's files.
#include "runtime/resource_parse.hpp"

#include <gtest/gtest.h>

#include "runtime/container_resources.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::runtime;

TEST(ParseSize, DockerSpellings) {
  EXPECT_EQ(try_parse_size("256m"), 256LL << 20);
  EXPECT_EQ(try_parse_size("256M"), 256LL << 20);
  EXPECT_EQ(try_parse_size("256mb"), 256LL << 20);
  EXPECT_EQ(try_parse_size("256MiB"), 256LL << 20);
  EXPECT_EQ(try_parse_size("1g"), 1LL << 30);
  EXPECT_EQ(try_parse_size("1.5g"), 3LL << 29);
  EXPECT_EQ(try_parse_size("10k"), 10240);
  EXPECT_EQ(try_parse_size("1024"), 1024);
  EXPECT_EQ(try_parse_size("1024b"), 1024);
  EXPECT_EQ(try_parse_size("2t"), 2LL << 40);
  EXPECT_EQ(try_parse_size("100 m"), 100LL << 20);
  EXPECT_EQ(try_parse_size("0"), 0);
}

TEST(ParseSize, Rejects) {
  for (const char* bad : {"", "m", "-1", "-5m", "1.m", ".5m", "12x", "1mm", " 1", "1e6", "abc", "1,5g",
                          "99999999999999999999", "9000000p"})
    EXPECT_EQ(try_parse_size(bad), std::nullopt) << bad;
}

TEST(ParseInt, Values) {
  EXPECT_EQ(try_parse_int("10"), 10);
  EXPECT_EQ(try_parse_int("-1"), -1);
  EXPECT_EQ(try_parse_int("+5"), 5);
  for (const char* bad : {"", "-", "1.5", "ten", "1 ", "0x10", "9999999999999999999"})
    EXPECT_EQ(try_parse_int(bad), std::nullopt) << bad;
}

TEST(ParseCpus, NanoCpus) {
  EXPECT_EQ(try_parse_cpus("1.5"), 1500000000);
  EXPECT_EQ(try_parse_cpus("0.5"), 500000000);
  EXPECT_EQ(try_parse_cpus("2"), 2000000000);
  EXPECT_EQ(try_parse_cpus("0.01"), 10000000);
  EXPECT_EQ(try_parse_cpus("0.3"), 300000000) << "exact, no binary rounding";
  EXPECT_EQ(try_parse_cpus("0.000000001"), 1);
  EXPECT_EQ(try_parse_cpus("0"), 0);
  for (const char* bad : {"", "-1", "1.", "one", "1.5.2", "0.0000000001", "1,5"})
    EXPECT_EQ(try_parse_cpus(bad), std::nullopt) << bad;
}

TEST(ParseCpuList, ListsAndRanges) {
  EXPECT_EQ(try_parse_cpu_list("0"), (std::vector<int>{0}));
  EXPECT_EQ(try_parse_cpu_list("0-2,5"), (std::vector<int>{0, 1, 2, 5}));
  EXPECT_EQ(try_parse_cpu_list("3,1,1-2"), (std::vector<int>{1, 2, 3}));
  for (const char* bad : {"", ",", "0,", "-1", "2-1", "0-", "a", "0 1", "0--2", "99999999"})
    EXPECT_EQ(try_parse_cpu_list(bad), std::nullopt) << bad;
  EXPECT_EQ(format_cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
  EXPECT_EQ(format_cpu_list({3}), "3");
}

namespace {
const std::vector<int> kTwoCpus = {0, 1};

std::string problem(const Resources& r) {
  try {
    validate_resources(r, kTwoCpus);
  } catch (const nrun::sys::UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ValidateResources, AcceptsSensibleLimits) {
  Resources r;
  EXPECT_EQ(problem(r), "");
  r.memory = 32 << 20;
  r.memory_swap = 64 << 20;
  r.nano_cpus = 1500000000;
  r.cpu_shares = 512;
  r.cpuset_cpus = "0-1";
  r.pids_limit = 10;
  EXPECT_EQ(problem(r), "");
  r.memory_swap = -1;
  EXPECT_EQ(problem(r), "");
}

TEST(ValidateResources, NamesTheProblem) {
  Resources r;
  r.memory = 1024;
  EXPECT_NE(problem(r).find("6MB"), std::string::npos);
  r = {};
  r.memory_swap = 64 << 20;
  EXPECT_NE(problem(r).find("--memory"), std::string::npos);
  r.memory = 128 << 20;
  EXPECT_NE(problem(r).find("--memory-swap"), std::string::npos) << "swap below memory";
  r = {};
  r.nano_cpus = 3000000000;
  EXPECT_NE(problem(r).find("only 2 CPUs"), std::string::npos) << problem(r);
  r.nano_cpus = 1000000;
  EXPECT_NE(problem(r).find("0.01"), std::string::npos);
  r = {};
  r.cpu_shares = 1;
  EXPECT_NE(problem(r).find("--cpu-shares"), std::string::npos);
  r = {};
  r.cpuset_cpus = "0,3";
  EXPECT_NE(problem(r).find("CPU 3 does not exist"), std::string::npos) << problem(r);
  EXPECT_NE(problem(r).find("0-1"), std::string::npos) << problem(r);
  r = {};
  r.pids_limit = -5;
  EXPECT_NE(problem(r).find("--pids-limit"), std::string::npos);
}

TEST(Conversions, QuotaAndSwap) {
  EXPECT_EQ(cpu_quota_us(500000000), 50000);
  EXPECT_EQ(cpu_quota_us(1500000000), 150000);
  EXPECT_EQ(cpu_quota_us(10000000), 1000);  // the kernel's smallest quota
  Resources r;
  EXPECT_EQ(effective_memory_swap(r), 0);
  r.memory = 100;
  EXPECT_EQ(effective_memory_swap(r), 200);
  r.memory_swap = 150;
  EXPECT_EQ(effective_memory_swap(r), 150);
  r.memory_swap = -1;
  EXPECT_EQ(effective_memory_swap(r), -1);
}

TEST(Format, SizesAsDockerStatsPrintsThem) {
  EXPECT_EQ(format_binary_size(0), "0B");
  EXPECT_EQ(format_binary_size(512), "512B");
  EXPECT_EQ(format_binary_size(1536), "1.5KiB");
  EXPECT_EQ(format_binary_size(32 << 20), "32MiB");
  EXPECT_EQ(format_binary_size(1536.0 * 1024 * 1024), "1.5GiB");
  EXPECT_EQ(format_decimal_size(1540), "1.54kB");
  EXPECT_EQ(format_decimal_size(0), "0B");
  EXPECT_EQ(format_decimal_size(2500000), "2.5MB");
}

TEST(Resources, JsonRoundTripAndDefaults) {
  Resources r;
  r.memory = 1;
  r.memory_swap = -1;
  r.nano_cpus = 2;
  r.cpu_shares = 3;
  r.cpuset_cpus = "0";
  r.pids_limit = 4;
  EXPECT_EQ(nlohmann::json(r).get<Resources>(), r);
  EXPECT_EQ(nlohmann::json::object().get<Resources>(), Resources{}) << "older records have none";
  EXPECT_FALSE(Resources{}.any());
  EXPECT_TRUE(r.any());
}

TEST(NetDev, SumsEveryInterfaceButLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
      "carrier compressed\n"
      "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0  "
      "     0          0\n"
      "  eth0:    2000      20    0    0    0     0          0         0      300       3    0    0    0     0  "
      "     0          0\n"
      "  eth1:      50       1    0    0    0     0          0         0       70       1    0    0    0     0  "
      "     0          0\n";
  const auto n = parse_net_dev(text);
  EXPECT_EQ(n.rx, 2050u);
  EXPECT_EQ(n.tx, 370u);
}
