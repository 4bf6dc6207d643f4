// Link impairments: netem (delay, jitter, loss, duplication, reordering,
// corruption) and a rate limit on an interface's egress, as users write
// them ("20ms", "0.5%", "100mbit"), and their application through libnl's
// qdisc API.
//
// libnl 3.7 has no rtnl_netem_set_rate (netem's own TCA_NETEM_RATE), so a
// rate is a tbf qdisc grafted under netem, the layout netem's documentation
// gives:  root 1: netem ...  ->  1:1 child 10: tbf rate R burst B limit L.
// A rate alone is a tbf at the root, which kernels without sch_netem have.
// The parsing is pure (netem_parse.cpp); netem.cpp talks to the kernel.
#pragma once
#include <netlink/socket.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace nrun::net {

struct NetemSpec {
  uint32_t delay_us = 0;
  uint32_t jitter_us = 0;  // needs a delay
  double loss = 0;         // percent, 0-100
  double duplicate = 0;    // percent
  double reorder = 0;      // percent of packets sent at once, the rest delayed; needs a delay
  double corrupt = 0;      // percent
  uint64_t rate_bps = 0;   // bits per second; 0: unlimited
  uint32_t limit = 0;      // netem's queue in packets; 0: the kernel's default (1000)

  bool empty() const { return *this == NetemSpec{}; }
  bool operator==(const NetemSpec&) const = default;
  // "delay 20ms jitter 2ms loss 0.5% rate 100mbit", or "" when empty.
  std::string str() const;
};

// The keys a netem object takes, in the order str() prints them.
inline constexpr const char* kNetemKeys[] = {"delay",   "jitter",  "loss", "duplicate",
                                             "reorder", "corrupt", "rate", "limit"};
bool is_netem_key(std::string_view key);

// "20ms", "1.5s", "250us", "0": microseconds; nullopt for junk, a missing
// unit on a non-zero value, or more than 1000 s.
std::optional<uint32_t> try_parse_duration_us(std::string_view s);
// "0.5%" or "0.5" (a percentage): nullopt for junk or outside 0-100.
std::optional<double> try_parse_percent(std::string_view s);
// tc's units: bit, kbit, mbit, gbit (SI, bits per second) and bps, kbps,
// mbps, gbps (bytes per second), any case: bits per second; nullopt for
// junk, less than 8 kbit or more than tbf's 32-bit bytes per second.
std::optional<uint64_t> try_parse_rate(std::string_view s);

// Sets the field `key` from the user's text. Throws UsageError "WHERE: ..."
// (no prefix for an empty `where`)
// naming the key, the value and what is expected.
void set_netem_field(NetemSpec& spec, std::string_view key, std::string_view value, const std::string& where);
// The combination: a jitter or a reorder needs a delay. Throws UsageError.
void validate_netem(const NetemSpec& spec, const std::string& where);

std::string format_duration_us(uint32_t us);  // "20ms", "1.5ms", "250us", "2s"
std::string format_rate(uint64_t bps);        // "100mbit", "1.5gbit", "64kbit"
std::string format_percent(double pct);       // "0.5%"

// A percentage as the kernel's 32-bit probability (100% = UINT32_MAX).
uint32_t percent_to_probability(double pct);

// Stored as the user's spelling (the str() pieces), so files stay readable.
void to_json(nlohmann::json& j, const NetemSpec& s);
void from_json(const nlohmann::json& j, NetemSpec& s);

// On a socket bound to the interface's namespace. Replaces whatever root
// qdisc `ifname` has with `spec` (netem, plus tbf for a rate); an empty
// spec clears it. Throws NetlinkError.
void set_netem(nl_sock* sock, const std::string& ifname, const NetemSpec& spec);
// Deletes the root qdisc of `ifname`; false when it had none of its own.
bool clear_qdisc_if_exists(nl_sock* sock, const std::string& ifname);

}  // namespace nrun::net
