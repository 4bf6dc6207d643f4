// The NAT plan and the nftables batches built from it, decoded with
// libnftnl and compared with what `nft --debug=netlink` shows for the same
// rules.
#include <gtest/gtest.h>
#include <libnftnl/set.h>

#include <algorithm>

#include "net/nat.hpp"
#include "net/nft.hpp"

using namespace nrun::net;

namespace {
const FwNetwork kLab{"0123456789ab", "lab0", parse_cidr("10.20.0.0/24"), false};
const FwNetwork kInternal{"ba9876543210", "back", parse_cidr("10.30.0.0/24"), true};

// The message of `b` whose first line starts with `head` and contains `has`.
std::vector<std::string> find(const std::vector<std::string>& msgs, const std::string& head, const std::string& has = "") {
  std::vector<std::string> out;
  for (const auto& m : msgs)
    if (m.rfind(head, 0) == 0 && m.find(has) != std::string::npos) out.push_back(m);
  return out;
}

std::vector<std::string> heads(const std::vector<std::string>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(m.substr(0, m.find('\n')));
  return out;
}
}  // namespace

TEST(NatPlan, ChainsAndRules) {
  const auto plan = nat_plan({kLab, kInternal});
  std::vector<std::string> names;
  for (const auto& c : plan) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"prerouting", "output", "nat_0123456789ab", "fwd_0123456789ab",
                                             "nat_ba9876543210", "fwd_ba9876543210"}));
  EXPECT_EQ(plan[0].hook, "prerouting");
  EXPECT_EQ(plan[0].priority, -100);
  EXPECT_EQ(plan[1].hook, "output");
  EXPECT_EQ(plan[2].hook, "postrouting");
  EXPECT_EQ(plan[2].priority, 100);
  EXPECT_EQ(plan[3].type, "filter");
  EXPECT_EQ(plan[3].hook, "forward");

  auto texts = [](const ChainPlan& c) {
    std::vector<std::string> t;
    for (const auto& r : c.rules) t.push_back(to_nft_syntax(r));
    return t;
  };
  EXPECT_EQ(texts(plan[2]), (std::vector<std::string>{
                                "meta nfproto ipv4 ip saddr 10.20.0.0/24 oifname != \"lab0\" masquerade",
                                "iifname \"lab0\" oifname \"lab0\" ct status dnat masquerade"}));
  EXPECT_EQ(texts(plan[3]), (std::vector<std::string>{
                                "iifname \"lab0\" oifname != \"lab0\" oifname @bridges ct status != dnat drop"}));
  // --internal: no masquerade out, no forwarding in or out.
  EXPECT_EQ(texts(plan[4]), (std::vector<std::string>{"iifname \"back\" oifname \"back\" ct status dnat masquerade"}));
  EXPECT_EQ(texts(plan[5]), (std::vector<std::string>{"iifname \"back\" oifname != \"back\" drop",
                                                      "oifname \"back\" iifname != \"back\" drop"}));
}

TEST(NftBatch, EnsureNetworkIsIdempotentAndOrdered) {
  const auto msgs = describe_batch(build_ensure_network(kLab));
  // create (never EXCL) table and sets; each chain created, flushed, filled.
  EXPECT_EQ(heads(msgs),
            (std::vector<std::string>{
                "newtable create: table nrun inet flags 0 use 0 handle 0",
                "newset create: dnat_any nrun 8",
                "newset create: dnat_ip nrun 8",
                "newset create: bridges nrun 0",
                "newchain create: inet nrun prerouting use 0 type nat hook prerouting prio -100 packets 0 bytes 0",
                "delrule: inet nrun prerouting",
                "newrule create: inet nrun prerouting",
                "newrule create: inet nrun prerouting",
                "newchain create: inet nrun output use 0 type nat hook output prio -100 packets 0 bytes 0",
                "delrule: inet nrun output",
                "newrule create: inet nrun output",
                "newrule create: inet nrun output",
                "newchain create: inet nrun nat_0123456789ab use 0 type nat hook postrouting prio 100 packets 0 bytes 0",
                "delrule: inet nrun nat_0123456789ab",
                "newrule create: inet nrun nat_0123456789ab",
                "newrule create: inet nrun nat_0123456789ab",
                "newchain create: inet nrun fwd_0123456789ab use 0 type filter hook forward prio 0 packets 0 bytes 0",
                "delrule: inet nrun fwd_0123456789ab",
                "newrule create: inet nrun fwd_0123456789ab",
                "newsetelem create: bridges nrun 0",
                "delsetelem: bridges nrun 0",
                "newsetelem create: bridges nrun 0",
            }));
}

// The bridge's element, last in the batch, carries the fingerprint an
// attach compares to skip the batch: stable, and different for other rules.
TEST(NftBatch, EnsureNetworkEndsWithTheRulesFingerprint) {
  const std::string fp = ruleset_fingerprint(kLab);
  EXPECT_EQ(fp.rfind("rules-", 0), 0u) << fp;
  EXPECT_EQ(fp, ruleset_fingerprint(kLab));
  FwNetwork other = kLab;
  other.subnet = parse_cidr("10.21.0.0/24");
  EXPECT_NE(ruleset_fingerprint(other), fp);
  other = kLab;
  other.internal = true;
  EXPECT_NE(ruleset_fingerprint(other), fp);
  const auto b = build_ensure_network(kLab);
  EXPECT_NE(b.what_of(b.next_seq() - 1).find(fp), std::string::npos) << b.what_of(b.next_seq() - 1);
}

TEST(NftBatch, RulesDecodeAsNftEncodesThem) {
  const auto msgs = describe_batch(build_ensure_network(kLab));
  // nft --debug=netlink add rule inet t c fib daddr type local meta nfproto ipv4
  //   dnat ip to meta l4proto . th dport map @dnat_any
  EXPECT_EQ(find(msgs, "newrule create: inet nrun prerouting", "dnat_any").at(0),
            "newrule create: inet nrun prerouting\n"
            "  [ fib daddr type => reg 1 ]\n"
            "  [ cmp eq reg 1 0x00000002 ]\n"
            "  [ meta load nfproto => reg 1 ]\n"
            "  [ cmp eq reg 1 0x00000002 ]\n"
            "  [ meta load l4proto => reg 1 ]\n"
            "  [ payload load 2b @ transport header + 2 => reg 9 ]\n"
            "  [ lookup reg 1 set dnat_any dreg 1 ]\n"
            "  [ nat dnat ip addr_min reg 1 proto_min reg 9 ]");
  EXPECT_EQ(find(msgs, "newrule create: inet nrun output", "dnat_ip").at(0),
            "newrule create: inet nrun output\n"
            "  [ fib daddr type => reg 1 ]\n"
            "  [ cmp eq reg 1 0x00000002 ]\n"
            "  [ meta load nfproto => reg 1 ]\n"
            "  [ cmp eq reg 1 0x00000002 ]\n"
            "  [ payload load 4b @ network header + 16 => reg 1 ]\n"
            "  [ meta load l4proto => reg 9 ]\n"
            "  [ payload load 2b @ transport header + 2 => reg 10 ]\n"
            "  [ lookup reg 1 set dnat_ip dreg 1 ]\n"
            "  [ nat dnat ip addr_min reg 1 proto_min reg 9 ]");
  // ip saddr 10.20.0.0/24 oifname != "lab0" masquerade
  EXPECT_EQ(find(msgs, "newrule create: inet nrun nat_0123456789ab", "network header + 12").at(0),
            "newrule create: inet nrun nat_0123456789ab\n"
            "  [ meta load nfproto => reg 1 ]\n"
            "  [ cmp eq reg 1 0x00000002 ]\n"
            "  [ payload load 4b @ network header + 12 => reg 1 ]\n"
            "  [ bitwise reg 1 = ( reg 1 & 0x00ffffff ) ^ 0x00000000 ]\n"
            "  [ cmp eq reg 1 0x0000140a ]\n"
            "  [ meta load oifname => reg 1 ]\n"
            "  [ cmp neq reg 1 0x3062616c 0x00000000 0x00000000 0x00000000 ]\n"
            "  [ masq ]");
  EXPECT_EQ(find(msgs, "newrule create: inet nrun fwd_0123456789ab").at(0),
            "newrule create: inet nrun fwd_0123456789ab\n"
            "  [ meta load iifname => reg 1 ]\n"
            "  [ cmp eq reg 1 0x3062616c 0x00000000 0x00000000 0x00000000 ]\n"
            "  [ meta load oifname => reg 1 ]\n"
            "  [ cmp neq reg 1 0x3062616c 0x00000000 0x00000000 0x00000000 ]\n"
            "  [ meta load oifname => reg 1 ]\n"
            "  [ lookup reg 1 set bridges ]\n"
            "  [ ct load status => reg 1 ]\n"
            "  [ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]\n"
            "  [ cmp eq reg 1 0x00000000 ]\n"
            "  [ immediate reg 0 drop ]");
  EXPECT_EQ(find(msgs, "newsetelem").at(0),
            "newsetelem create: bridges nrun 0\n\telement 3062616c 00000000 00000000 00000000  : 0 [end]");
}

TEST(NftBatch, RemoveNetworkNeverHitsEnoent) {
  EXPECT_EQ(heads(describe_batch(build_remove_network(kInternal))),
            (std::vector<std::string>{
                "newtable create: table nrun inet flags 0 use 0 handle 0",
                "newchain create: inet nrun nat_ba9876543210 use 0 type nat hook postrouting prio 100 packets 0 bytes 0",
                "delrule: inet nrun nat_ba9876543210",
                "delchain: inet nrun nat_ba9876543210 use 0",
                "newchain create: inet nrun fwd_ba9876543210 use 0 type filter hook forward prio 0 packets 0 bytes 0",
                "delrule: inet nrun fwd_ba9876543210",
                "delchain: inet nrun fwd_ba9876543210 use 0",
                "newset create: bridges nrun 0",
                "newsetelem create: bridges nrun 0",
                "delsetelem: bridges nrun 0",
            }));
}

TEST(NftBatch, ForwardsAreMapElementsWithTheOwner) {
  const Forward any{"tcp", std::nullopt, 8080, parse_ipv4("10.20.0.2"), 80, "abc"};
  const Forward by_ip{"udp", parse_ipv4("127.0.0.1"), 53, parse_ipv4("10.20.0.3"), 5353, "abc"};
  const auto msgs = describe_batch(build_add_forwards({any, by_ip}));
  ASSERT_EQ(msgs.size(), 2u);
  // nft: add element inet nrun dnat_any { tcp . 8080 : 10.20.0.2 . 80 }
  EXPECT_EQ(msgs[0],
            "newsetelem create excl: dnat_any nrun 0\n"
            "\telement 00000006 0000901f  : 0200140a 00005000 0 [end]  userdata = { \\x00\\x04abc\\x00 }");
  EXPECT_EQ(msgs[1],
            "newsetelem create excl: dnat_ip nrun 0\n"
            "\telement 0100007f 00000011 00003500  : 0300140a 0000e914 0 [end]  userdata = { \\x00\\x04abc\\x00 }");
  const auto del = describe_batch(build_delete_forwards({any}));
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].substr(0, del[0].find('\n')), "delsetelem: dnat_any nrun 0");
  EXPECT_TRUE(describe_batch(build_add_forwards({})).empty());
}

TEST(NftBatch, ElementEncodingRoundTrips) {
  const Forward f{"udp", parse_ipv4("192.0.2.7"), 5353, parse_ipv4("10.20.0.9"), 53, "owner-id"};
  const auto key = forward_key(f);
  const auto data = forward_data(f);
  EXPECT_EQ(key.size(), 12u);
  EXPECT_EQ(data.size(), 8u);
  Forward back;
  ASSERT_TRUE(decode_forward(kDnatIpMap, key.data(), key.size(), data.data(), data.size(), "owner-id", back));
  EXPECT_EQ(back, f);
  Forward g = f;
  g.host_ip.reset();
  const auto gk = forward_key(g);
  ASSERT_TRUE(decode_forward(kDnatAnyMap, gk.data(), gk.size(), data.data(), data.size(), "owner-id", back));
  EXPECT_EQ(back, g);
  EXPECT_FALSE(decode_forward(kDnatAnyMap, key.data(), key.size(), data.data(), data.size(), "", back));
}

TEST(NftBatch, LargeRangesAreSplitAcrossMessages) {
  std::vector<Forward> fwds;
  for (uint16_t p = 0; p < 450; ++p) fwds.push_back({"tcp", std::nullopt, static_cast<uint16_t>(10000 + p), parse_ipv4("10.20.0.2"), p, "x"});
  auto b = build_add_forwards(fwds);
  EXPECT_EQ(b.size(), 3u);  // 200 + 200 + 50
  size_t elements = 0;
  for (const auto& m : describe_batch(b))
    for (size_t pos = 0; (pos = m.find("element ", pos)) != std::string::npos; ++pos) ++elements;
  EXPECT_EQ(elements, 450u);
}
