// Impairments as users write them: durations, percentages, rates, the
// fields of a netem object, their combination, formatting and JSON.
#include <gtest/gtest.h>

#include <limits>

#include "net/netem.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::net;
using nrun::sys::UsageError;

TEST(LabNetem, ParsesDurations) {
  EXPECT_EQ(try_parse_duration_us("20ms"), 20000u);
  EXPECT_EQ(try_parse_duration_us("1.5ms"), 1500u);
  EXPECT_EQ(try_parse_duration_us("250us"), 250u);
  EXPECT_EQ(try_parse_duration_us("2s"), 2000000u);
  EXPECT_EQ(try_parse_duration_us("0.5s"), 500000u);
  EXPECT_EQ(try_parse_duration_us("10MS"), 10000u);
  EXPECT_EQ(try_parse_duration_us("5msec"), 5000u);
  EXPECT_EQ(try_parse_duration_us("0"), 0u);
  EXPECT_EQ(try_parse_duration_us("1000s"), 1000000000u);
  for (const char* bad : {"", "20", "ms", "-5ms", "20 ms", "20min", "1001s", "1e3ms", "abc", "20ms5"})
    EXPECT_FALSE(try_parse_duration_us(bad)) << bad;
}

TEST(LabNetem, ParsesPercentages) {
  EXPECT_DOUBLE_EQ(*try_parse_percent("0.5%"), 0.5);
  EXPECT_DOUBLE_EQ(*try_parse_percent("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*try_parse_percent("100%"), 100);
  EXPECT_DOUBLE_EQ(*try_parse_percent("0"), 0);
  for (const char* bad : {"", "%", "101%", "-1%", "1%%", "one", "5 %"}) EXPECT_FALSE(try_parse_percent(bad)) << bad;
}

TEST(LabNetem, ParsesRatesInTcUnits) {
  EXPECT_EQ(try_parse_rate("100mbit"), 100000000u);
  EXPECT_EQ(try_parse_rate("1gbit"), 1000000000u);
  EXPECT_EQ(try_parse_rate("1.5Mbit"), 1500000u);
  EXPECT_EQ(try_parse_rate("512kbit"), 512000u);
  EXPECT_EQ(try_parse_rate("10mbps"), 80000000u);  // bytes per second, as tc
  EXPECT_EQ(try_parse_rate("8000bit"), 8000u);
  for (const char* bad : {"", "100", "100mb", "fast", "1bit", "7999bit", "20gbit", "-1mbit", "mbit"})
    EXPECT_FALSE(try_parse_rate(bad)) << bad;
}

TEST(LabNetem, FormatsWhatItParses) {
  EXPECT_EQ(format_duration_us(20000), "20ms");
  EXPECT_EQ(format_duration_us(1500), "1.5ms");
  EXPECT_EQ(format_duration_us(250), "250us");
  EXPECT_EQ(format_duration_us(2000000), "2s");
  EXPECT_EQ(format_rate(100000000), "100mbit");
  EXPECT_EQ(format_rate(1500000), "1500kbit");
  EXPECT_EQ(format_rate(2000000000), "2gbit");
  EXPECT_EQ(format_percent(0.5), "0.5%");
  EXPECT_EQ(format_percent(25), "25%");
  for (uint32_t us : {1u, 999u, 1000u, 1234u, 20000u, 1500000u, 3000000u})
    EXPECT_EQ(try_parse_duration_us(format_duration_us(us)), us) << us;
  for (uint64_t bps : {8000ull, 64000ull, 1500000ull, 100000000ull, 123456789ull})
    EXPECT_EQ(try_parse_rate(format_rate(bps)), bps) << bps;
}

TEST(LabNetem, ProbabilitiesAreTheKernels32BitScale) {
  EXPECT_EQ(percent_to_probability(0), 0u);
  EXPECT_EQ(percent_to_probability(100), std::numeric_limits<uint32_t>::max());
  EXPECT_NEAR(percent_to_probability(50), 2147483648.0, 1);
  EXPECT_NEAR(percent_to_probability(0.5), 21474836.0, 1);
}

TEST(LabNetem, SetsFieldsAndNamesBadOnes) {
  NetemSpec s;
  set_netem_field(s, "delay", "20ms", "x");
  set_netem_field(s, "jitter", "2ms", "x");
  set_netem_field(s, "loss", "0.5%", "x");
  set_netem_field(s, "duplicate", "1", "x");
  set_netem_field(s, "reorder", "25%", "x");
  set_netem_field(s, "corrupt", "0.1%", "x");
  set_netem_field(s, "rate", "100mbit", "x");
  set_netem_field(s, "limit", "500", "x");
  EXPECT_EQ(s.str(), "delay 20ms jitter 2ms loss 0.5% duplicate 1% reorder 25% corrupt 0.1% rate 100mbit limit 500");
  validate_netem(s, "x");

  try {
    set_netem_field(s, "delay", "20", "links[0].netem");
    FAIL() << "no unit accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("links[0].netem: invalid delay '20'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(set_netem_field(s, "loss", "150%", "x"), UsageError);
  EXPECT_THROW(set_netem_field(s, "rate", "fast", "x"), UsageError);
  EXPECT_THROW(set_netem_field(s, "limit", "0", "x"), UsageError);
  EXPECT_THROW(set_netem_field(s, "limit", "many", "x"), UsageError);
  EXPECT_THROW(set_netem_field(s, "dealy", "20ms", "x"), UsageError);
}

TEST(LabNetem, JitterAndReorderNeedADelay) {
  NetemSpec s;
  s.jitter_us = 1000;
  EXPECT_THROW(validate_netem(s, "x"), UsageError);
  s = NetemSpec{};
  s.reorder = 10;
  EXPECT_THROW(validate_netem(s, "x"), UsageError);
  s.delay_us = 10000;
  validate_netem(s, "x");
  s = NetemSpec{};
  s.loss = 1;  // loss, duplicate, corrupt and rate stand alone
  s.rate_bps = 1000000;
  validate_netem(s, "x");
}

TEST(LabNetem, EmptyAndJsonRoundTrip) {
  NetemSpec s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.str(), "");
  s.delay_us = 50000;
  s.loss = 1;
  s.rate_bps = 10000000;
  EXPECT_FALSE(s.empty());
  const nlohmann::json j = s;
  EXPECT_EQ(j, nlohmann::json::parse(R"({"delay":"50ms","loss":"1%","rate":"10mbit"})"));
  EXPECT_EQ(j.get<NetemSpec>(), s);
  EXPECT_EQ(nlohmann::json::object().get<NetemSpec>(), NetemSpec{});
}
