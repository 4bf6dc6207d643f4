// Resource quantities as users write them (Docker's spellings) and as the
// kernel's cgroup files want them. Pure: nothing here touches the system.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/resources.hpp"

namespace nrun::runtime {

constexpr int64_t kCpuPeriodUs = 100000;  // the kernel's default CFS period
constexpr int64_t kNanoCpusPerCpu = 1000000000;
constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's floor: less cannot run a shell
constexpr int64_t kMinCpuShares = 2, kMaxCpuShares = 262144;

// "256m", "1.5g", "1024", "64MiB", "10 kb": binary units b, k, m, g, t, p in
// either case, an optional "i" and "b" (Docker's RAMInBytes). nullopt for
// anything else, a negative number or an overflow.
std::optional<int64_t> try_parse_size(std::string_view s);
// A decimal integer, optionally negative; nullopt for anything else.
std::optional<int64_t> try_parse_int(std::string_view s);
// "1.5" -> 1500000000 nano CPUs; nullopt for junk, negatives and more than
// nine decimals.
std::optional<int64_t> try_parse_cpus(std::string_view s);
// "0-2,5" -> {0, 1, 2, 5} (sorted, unique); nullopt on a syntax error.
std::optional<std::vector<int>> try_parse_cpu_list(std::string_view s);
// {0, 1, 2, 5} -> "0-2,5".
std::string format_cpu_list(const std::vector<int>& cpus);

// The whole set of limits against each other and the host's online CPUs;
// throws UsageError naming the first problem.
void validate_resources(const Resources& r, const std::vector<int>& online_cpus);

// cgroup v2's cpu.weight for v1's cpu.shares, as crun and runc convert it:
// 2..262144 maps onto 1..10000.
uint64_t cpu_shares_to_weight(uint64_t shares);
// CFS quota per period for a number of nano CPUs.
int64_t cpu_quota_us(int64_t nano_cpus, int64_t period_us = kCpuPeriodUs);
// The memory + swap limit to apply: 0 none, -1 unlimited, else bytes. An
// unset --memory-swap means twice --memory, as Docker does.
int64_t effective_memory_swap(const Resources& r);

// Sizes for people, as docker stats prints them: "1.465MiB" (binary, for
// memory) and "1.54kB" (decimal, for network traffic).
std::string format_binary_size(double bytes);
std::string format_decimal_size(double bytes);

}  // namespace nrun::runtime
