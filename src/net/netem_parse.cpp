// The pure half of netem.hpp: parsing and formatting impairments.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "net/netem.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::net {
using sys::UsageError;

namespace {
constexpr uint64_t kMaxDurationUs = 1000ull * 1000 * 1000;  // 1000 s
// tbf takes bytes per second in an int (libnl) and a u32 (the kernel).
constexpr uint64_t kMaxRateBps = uint64_t{std::numeric_limits<int32_t>::max()} * 8;
constexpr uint64_t kMinRateBps = 8000;  // below this tbf's burst arithmetic degenerates

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// A non-negative decimal number at the front of `s` ("1.5", "20"); the
// rest is left in `s`.
std::optional<double> take_number(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
  if (n == 0) return std::nullopt;
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + n, v);
  if (ec != std::errc() || p != s.data() + n || !std::isfinite(v) || v < 0) return std::nullopt;
  s.remove_prefix(n);
  return v;
}

std::string trim_number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}
}  // namespace

bool is_netem_key(std::string_view key) {
  return std::any_of(std::begin(kNetemKeys), std::end(kNetemKeys), [&](const char* k) { return key == k; });
}

std::optional<uint32_t> try_parse_duration_us(std::string_view s) {
  const auto v = take_number(s);
  if (!v) return std::nullopt;
  const std::string unit = lower(s);
  double scale;
  if (unit.empty()) {
    if (*v != 0) return std::nullopt;  // "20" could mean anything
    return 0;
  } else if (unit == "us" || unit == "usec") {
    scale = 1;
  } else if (unit == "ms" || unit == "msec") {
    scale = 1e3;
  } else if (unit == "s" || unit == "sec") {
    scale = 1e6;
  } else {
    return std::nullopt;
  }
  const double us = std::round(*v * scale);
  if (us > static_cast<double>(kMaxDurationUs)) return std::nullopt;
  return static_cast<uint32_t>(us);
}

std::optional<double> try_parse_percent(std::string_view s) {
  const auto v = take_number(s);
  if (!v || !(s.empty() || s == "%") || *v > 100) return std::nullopt;
  return *v;
}

std::optional<uint64_t> try_parse_rate(std::string_view s) {
  const auto v = take_number(s);
  if (!v) return std::nullopt;
  static const std::pair<const char*, double> kUnits[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
                                                          {"bps", 8}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}};
  const std::string unit = lower(s);
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bps = std::round(*v * scale);
    if (bps < static_cast<double>(kMinRateBps) || bps > static_cast<double>(kMaxRateBps)) return std::nullopt;
    return static_cast<uint64_t>(bps);
  }
  return std::nullopt;
}

void set_netem_field(NetemSpec& spec, std::string_view key, std::string_view value, const std::string& where) {
  const std::string at = where.empty() ? "" : where + ": ";
  const std::string bad = at + "invalid " + std::string(key) + " '" + std::string(value) + "'";
  if (key == "delay" || key == "jitter") {
    const auto us = try_parse_duration_us(value);
    if (!us) throw UsageError(bad + ": expected a duration such as 20ms, 1.5s or 250us (at most 1000s)");
    (key == "delay" ? spec.delay_us : spec.jitter_us) = *us;
  } else if (key == "loss" || key == "duplicate" || key == "reorder" || key == "corrupt") {
    const auto pct = try_parse_percent(value);
    if (!pct) throw UsageError(bad + ": expected a percentage from 0% to 100%, such as 0.5%");
    if (key == "loss")
      spec.loss = *pct;
    else if (key == "duplicate")
      spec.duplicate = *pct;
    else if (key == "reorder")
      spec.reorder = *pct;
    else
      spec.corrupt = *pct;
  } else if (key == "rate") {
    const auto bps = try_parse_rate(value);
    if (!bps)
      throw UsageError(bad + ": expected a rate such as 100mbit, 512kbit or 10mbps (bytes), from 8kbit to " +
                       format_rate(kMaxRateBps));
    spec.rate_bps = *bps;
  } else if (key == "limit") {
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || p != value.data() + value.size() || v == 0 || v > 1000000)
      throw UsageError(bad + ": expected a number of packets from 1 to 1000000");
    spec.limit = v;
  } else {
    throw UsageError(at + "unknown impairment '" + std::string(key) +
                     "' (delay, jitter, loss, duplicate, reorder, corrupt, rate, limit)");
  }
}

void validate_netem(const NetemSpec& spec, const std::string& where) {
  const std::string at = where.empty() ? "" : where + ": ";
  if (spec.jitter_us && !spec.delay_us) throw UsageError(at + "a jitter needs a delay");
  if (spec.reorder > 0 && !spec.delay_us) throw UsageError(at + "reordering needs a delay");
}

std::string format_duration_us(uint32_t us) {
  if (us == 0) return "0";
  if (us % 1000000 == 0) return std::to_string(us / 1000000) + "s";
  if (us >= 1000) return trim_number(us / 1000.0, 3) + "ms";
  return std::to_string(us) + "us";
}

std::string format_rate(uint64_t bps) {
  if (bps % 1000000000 == 0) return std::to_string(bps / 1000000000) + "gbit";
  if (bps % 1000000 == 0) return std::to_string(bps / 1000000) + "mbit";
  if (bps % 1000 == 0) return std::to_string(bps / 1000) + "kbit";
  return std::to_string(bps) + "bit";
}

std::string format_percent(double pct) { return trim_number(pct, 6) + "%"; }

uint32_t percent_to_probability(double pct) {
  if (pct >= 100) return std::numeric_limits<uint32_t>::max();
  if (pct <= 0) return 0;
  return static_cast<uint32_t>(std::llround(pct / 100.0 * std::numeric_limits<uint32_t>::max()));
}

std::string NetemSpec::str() const {
  std::string s;
  auto add = [&](const char* key, const std::string& v) { s += (s.empty() ? "" : " ") + std::string(key) + " " + v; };
  if (delay_us) add("delay", format_duration_us(delay_us));
  if (jitter_us) add("jitter", format_duration_us(jitter_us));
  if (loss > 0) add("loss", format_percent(loss));
  if (duplicate > 0) add("duplicate", format_percent(duplicate));
  if (reorder > 0) add("reorder", format_percent(reorder));
  if (corrupt > 0) add("corrupt", format_percent(corrupt));
  if (rate_bps) add("rate", format_rate(rate_bps));
  if (limit) add("limit", std::to_string(limit));
  return s;
}

void to_json(nlohmann::json& j, const NetemSpec& s) {
  j = nlohmann::json::object();
  if (s.delay_us) j["delay"] = format_duration_us(s.delay_us);
  if (s.jitter_us) j["jitter"] = format_duration_us(s.jitter_us);
  if (s.loss > 0) j["loss"] = format_percent(s.loss);
  if (s.duplicate > 0) j["duplicate"] = format_percent(s.duplicate);
  if (s.reorder > 0) j["reorder"] = format_percent(s.reorder);
  if (s.corrupt > 0) j["corrupt"] = format_percent(s.corrupt);
  if (s.rate_bps) j["rate"] = format_rate(s.rate_bps);
  if (s.limit) j["limit"] = std::to_string(s.limit);
}

void from_json(const nlohmann::json& j, NetemSpec& s) {
  s = NetemSpec{};
  for (const auto& [key, value] : j.items())
    set_netem_field(s, key, value.is_string() ? value.get<std::string>() : value.dump(), "netem");
}

}  // namespace nrun::net
