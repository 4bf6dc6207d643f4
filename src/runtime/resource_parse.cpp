#include "runtime/resource_parse.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

#include "runtime/sys/error.hpp"

namespace nrun::runtime {
using sys::UsageError;

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Digits [. digits] at the front of s, as an integer part and the fraction's
// digits; nullopt when s does not start with a digit.
struct Decimal {
  std::string whole, fraction;
};
std::optional<Decimal> take_decimal(std::string_view& s) {
  Decimal d;
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) d.whole += s[i++];
  if (d.whole.empty()) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) d.fraction += s[i++];
    if (d.fraction.empty()) return std::nullopt;
  }
  s.remove_prefix(i);
  return d;
}

// whole.fraction * scale, truncated; nullopt on overflow of int64.
std::optional<int64_t> scale_decimal(const Decimal& d, int64_t scale) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t whole = 0;
  for (char c : d.whole) {
    if (whole > (kMax - (c - '0')) / 10) return std::nullopt;
    whole = whole * 10 + (c - '0');
  }
  if (whole > kMax / scale) return std::nullopt;
  int64_t out = whole * scale;
  // The fraction exactly, in integers: digits * scale / 10^count, truncated
  // below one unit.
  __int128 digits = 0, divisor = 1;
  for (char c : d.fraction.substr(0, 18)) {
    digits = digits * 10 + (c - '0');
    divisor *= 10;
  }
  const auto extra = static_cast<int64_t>(digits * scale / divisor);
  if (out > kMax - extra) return std::nullopt;
  return out + extra;
}

std::string format_size(double bytes, double base, const char* const* units, size_t n, int precision) {
  size_t i = 0;
  while (bytes >= base && i + 1 < n) {
    bytes /= base;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g%s", precision, bytes, units[i]);
  return buf;
}
}  // namespace

std::optional<int64_t> try_parse_size(std::string_view s) {
  auto d = take_decimal(s);
  if (!d) return std::nullopt;
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  int64_t scale = 1;
  if (!s.empty()) {
    static constexpr std::string_view kUnits = "kmgtp";
    const auto pos = kUnits.find(lower(s.front()));
    if (pos != std::string_view::npos) {
      for (size_t i = 0; i <= pos; ++i) scale *= 1024;
      s.remove_prefix(1);
      if (!s.empty() && lower(s.front()) == 'i') s.remove_prefix(1);
    }
  }
  if (!s.empty() && lower(s.front()) == 'b') s.remove_prefix(1);
  if (!s.empty()) return std::nullopt;
  return scale_decimal(*d, scale);
}

std::optional<int64_t> try_parse_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), is_digit)) return std::nullopt;
  const int64_t v = std::stoll(std::string(s));
  return negative ? -v : v;
}

std::optional<int64_t> try_parse_cpus(std::string_view s) {
  auto d = take_decimal(s);
  if (!d || !s.empty() || d->fraction.size() > 9) return std::nullopt;
  return scale_decimal(*d, kNanoCpusPerCpu);
}

std::optional<std::vector<int>> try_parse_cpu_list(std::string_view s) {
  constexpr int kMaxCpu = 8191;  // far beyond any machine nrun runs on; bounds a typo like 0-99999999
  std::vector<int> out;
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  auto number = [&]() -> std::optional<int> {
    const size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < 6) ++i;
    if (i == start || (i < s.size() && is_digit(s[i]))) return std::nullopt;
    const int n = std::stoi(std::string(s.substr(start, i - start)));
    if (n > kMaxCpu) return std::nullopt;
    return n;
  };
  for (;;) {
    const auto first = number();
    if (!first) return std::nullopt;
    int last = *first;
    if (i < s.size() && s[i] == '-') {
      ++i;
      const auto end = number();
      if (!end || *end < *first) return std::nullopt;
      last = *end;
    }
    for (int c = *first; c <= last; ++c) out.push_back(c);
    if (i == s.size()) break;
    if (s[i] != ',') return std::nullopt;
    ++i;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

void validate_resources(const Resources& r, const std::vector<int>& online_cpus) {
  if (r.memory < 0) throw UsageError("invalid memory limit: must be positive");
  if (r.memory > 0 && r.memory < kMinMemory) throw UsageError("minimum memory limit allowed is 6MB");
  if (r.memory_swap != 0) {
    if (r.memory == 0) throw UsageError("--memory-swap needs --memory as well");
    if (r.memory_swap < -1) throw UsageError("invalid --memory-swap: must be a size, or -1 for unlimited swap");
    if (r.memory_swap > 0 && r.memory_swap < r.memory)
      throw UsageError("--memory-swap (" + std::to_string(r.memory_swap) + " bytes) must be at least --memory (" +
                       std::to_string(r.memory) + " bytes): it limits memory and swap together");
  }
  const auto ncpus = static_cast<int64_t>(online_cpus.size());
  if (r.nano_cpus != 0 && (r.nano_cpus < kNanoCpusPerCpu / 100 || r.nano_cpus > ncpus * kNanoCpusPerCpu))
    throw UsageError("invalid --cpus: the range of CPUs is from 0.01 to " + std::to_string(ncpus) +
                     ".00, as there are only " + std::to_string(ncpus) + " CPUs available");
  if (r.cpu_shares != 0 && (r.cpu_shares < kMinCpuShares || r.cpu_shares > kMaxCpuShares))
    throw UsageError("invalid --cpu-shares: must be between 2 and 262144");
  if (!r.cpuset_cpus.empty()) {
    const auto cpus = try_parse_cpu_list(r.cpuset_cpus);
    if (!cpus) throw UsageError("invalid --cpuset-cpus '" + r.cpuset_cpus + "': expected a list such as 0-2,5");
    for (int c : *cpus)
      if (!std::binary_search(online_cpus.begin(), online_cpus.end(), c))
        throw UsageError("invalid --cpuset-cpus '" + r.cpuset_cpus + "': CPU " + std::to_string(c) +
                         " does not exist (online CPUs: " + format_cpu_list(online_cpus) + ")");
  }
  if (r.pids_limit < 0) throw UsageError("invalid --pids-limit: must be positive");
}

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, kMinCpuShares, kMaxCpuShares);
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t cpu_quota_us(int64_t nano_cpus, int64_t period_us) { return nano_cpus * period_us / kNanoCpusPerCpu; }

int64_t effective_memory_swap(const Resources& r) {
  if (r.memory <= 0) return 0;
  if (r.memory_swap == -1) return -1;
  if (r.memory_swap > 0) return r.memory_swap;
  return r.memory > std::numeric_limits<int64_t>::max() / 2 ? -1 : r.memory * 2;
}

std::string format_binary_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  return format_size(bytes, 1024, kUnits, std::size(kUnits), 4);
}

std::string format_decimal_size(double bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  return format_size(bytes, 1000, kUnits, std::size(kUnits), 3);
}

}  // namespace nrun::runtime
