// Addresses, CIDR blocks, MACs; port specs and the rest of the network
// options; /proc/net parsing; hosts and resolv.conf rendering.
#include <gtest/gtest.h>

#include "net/files.hpp"
#include "net/ip.hpp"
#include "net/options.hpp"
#include "net/ports.hpp"
#include "runtime/sys/error.hpp"

using namespace nrun::net;
using nrun::sys::UsageError;

TEST(NetIp, ParsesAndFormatsIpv4) {
  EXPECT_EQ(parse_ipv4("10.88.0.1").value, 0x0a580001u);
  EXPECT_EQ(parse_ipv4("0.0.0.0").value, 0u);
  EXPECT_EQ(parse_ipv4("255.255.255.255").value, 0xffffffffu);
  EXPECT_EQ(parse_ipv4("192.168.1.20").str(), "192.168.1.20");
  EXPECT_EQ(parse_ipv4("10.0.0.1").be(), 0x0100000au);
  for (const char* bad : {"", "10", "10.0.0", "10.0.0.0.1", "256.0.0.1", "10.0.0.-1", "10.0.0.1 ", "a.b.c.d",
                          "10..0.1", "010.0.0.1", "10.0.0.1/24", "::1"})
    EXPECT_THROW(parse_ipv4(bad), UsageError) << bad;
  EXPECT_FALSE(try_parse_ipv4("1.2.3").has_value());
}

TEST(NetIp, ParsesCidr) {
  const Cidr c = parse_cidr("10.20.0.0/24");
  EXPECT_EQ(c.prefix, 24);
  EXPECT_EQ(c.network().str(), "10.20.0.0");
  EXPECT_EQ(c.broadcast().str(), "10.20.0.255");
  EXPECT_EQ(c.size(), 256u);
  EXPECT_TRUE(c.contains(parse_ipv4("10.20.0.77")));
  EXPECT_FALSE(c.contains(parse_ipv4("10.20.1.1")));
  EXPECT_EQ(parse_cidr("0.0.0.0/0").mask(), 0u);
  EXPECT_EQ(parse_cidr("10.0.0.1/32").mask(), 0xffffffffu);
  EXPECT_THROW(parse_cidr("10.20.0.1/24"), UsageError);  // host bits
  EXPECT_NO_THROW(parse_cidr("10.20.0.1/24", false));
  for (const char* bad : {"10.20.0.0", "10.20.0.0/", "10.20.0.0/33", "10.20.0.0/-1", "10.20.0/24", "x/24", "10.0.0.0/2a"})
    EXPECT_THROW(parse_cidr(bad), UsageError) << bad;
  try {
    parse_cidr("10.20.0.1/24");
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("10.20.0.0/24"), std::string::npos) << e.what();  // suggests the fix
  }
}

TEST(NetIp, Overlap) {
  EXPECT_TRUE(overlaps(parse_cidr("10.0.0.0/8"), parse_cidr("10.88.0.0/16")));
  EXPECT_TRUE(overlaps(parse_cidr("10.88.0.0/16"), parse_cidr("10.0.0.0/8")));
  EXPECT_TRUE(overlaps(parse_cidr("10.88.0.0/16"), parse_cidr("10.88.0.0/16")));
  EXPECT_TRUE(overlaps(parse_cidr("10.88.3.0/24"), parse_cidr("10.88.3.7/32")));
  EXPECT_FALSE(overlaps(parse_cidr("10.88.0.0/16"), parse_cidr("10.89.0.0/16")));
  EXPECT_FALSE(overlaps(parse_cidr("192.168.0.0/24"), parse_cidr("192.168.1.0/24")));
  EXPECT_TRUE(overlaps(parse_cidr("0.0.0.0/0"), parse_cidr("1.2.3.4/32")));
}

TEST(NetIp, ReservedBlocks) {
  for (const char* bad : {"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/24", "239.1.0.0/16",
                          "240.0.0.0/8", "255.255.255.0/24", "160.0.0.0/3"})
    EXPECT_TRUE(reserved_block_of(parse_cidr(bad)).has_value()) << bad;
  for (const char* good : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "1.0.0.0/8",
                           "223.255.255.0/24", "169.253.0.0/16"})
    EXPECT_FALSE(reserved_block_of(parse_cidr(good)).has_value()) << good;
  EXPECT_EQ(*reserved_block_of(parse_cidr("224.0.0.0/24")), "multicast 224.0.0.0/4");
}

TEST(NetIp, Mac) {
  EXPECT_EQ(parse_mac("02:42:AC:11:00:02").str(), "02:42:ac:11:00:02");
  EXPECT_EQ(parse_mac("02-42-ac-11-00-02").str(), "02:42:ac:11:00:02");
  EXPECT_THROW(parse_mac("01:00:5e:00:00:01"), UsageError);  // multicast
  EXPECT_THROW(parse_mac("ff:ff:ff:ff:ff:ff"), UsageError);  // broadcast
  EXPECT_THROW(parse_mac("00:00:00:00:00:00"), UsageError);
  EXPECT_THROW(parse_mac("02:42:ac:11:00"), UsageError);
  EXPECT_THROW(parse_mac("02:42:ac:11:00:0g"), UsageError);
  EXPECT_THROW(parse_mac("02:42-ac:11:00:02"), UsageError);
  EXPECT_EQ(mac_for(parse_ipv4("10.88.0.2")).str(), "02:42:0a:58:00:02");
  EXPECT_TRUE(mac_for(parse_ipv4("255.255.255.255")).is_unicast());
}

TEST(NetPorts, ParsesPublish) {
  EXPECT_EQ(parse_publish("8080:80"), (std::vector<PortSpec>{{"", 8080, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("80"), (std::vector<PortSpec>{{"", 0, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("53:53/udp"), (std::vector<PortSpec>{{"", 53, 0, 53, "udp"}}));
  EXPECT_EQ(parse_publish("127.0.0.1:8080:80/tcp"), (std::vector<PortSpec>{{"127.0.0.1", 8080, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("127.0.0.1::80"), (std::vector<PortSpec>{{"127.0.0.1", 0, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("0.0.0.0:8080:80"), (std::vector<PortSpec>{{"", 8080, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("8000-8001:80-81"),
            (std::vector<PortSpec>{{"", 8000, 0, 80, "tcp"}, {"", 8001, 0, 81, "tcp"}}));
  EXPECT_EQ(parse_publish("8000-8010:80"), (std::vector<PortSpec>{{"", 8000, 8010, 80, "tcp"}}));
  EXPECT_EQ(parse_publish("90-91"), (std::vector<PortSpec>{{"", 0, 0, 90, "tcp"}, {"", 0, 0, 91, "tcp"}}));
  EXPECT_EQ(parse_publish("127.0.0.1:8080:80").front().str(), "127.0.0.1:8080:80/tcp");
  EXPECT_EQ(parse_publish("8000-8010:80").front().str(), "8000-8010:80/tcp");
  for (const char* bad : {"", "0:80", "65536:80", "8080:0", "8080:80/sctp", "a:80", "8080:", ":80", "1.2.3:8080:80",
                          "8000-8002:80-81", "8010-8000:80", "1:2:3:4", "8080:80/", "-1:80", "80-"})
    EXPECT_THROW(parse_publish(bad), UsageError) << bad;
  EXPECT_THROW(parse_publish("1-2000"), UsageError);  // more than kMaxPublishedPorts
}

TEST(NetPorts, ParsesExpose) {
  EXPECT_EQ(parse_expose("80"), (std::vector<PortSpec>{{"", 0, 0, 80, "tcp"}}));
  EXPECT_EQ(parse_expose("53/udp"), (std::vector<PortSpec>{{"", 0, 0, 53, "udp"}}));
  EXPECT_EQ(parse_expose("7-8").size(), 2u);
  EXPECT_THROW(parse_expose("0"), UsageError);
}

TEST(NetOptions, Validate) {
  EXPECT_NO_THROW(validate_network_options("bridge", {{"bridge", "", "", {}}}, {}, {}));
  EXPECT_NO_THROW(validate_network_options("lab0", {{"lab0", "10.0.0.5", "02:00:00:00:00:01", {"web"}}, {"lab1", "", "", {}}},
                                           {{"", 8080, 0, 80, "tcp"}}, {"1.1.1.1"}));
  EXPECT_NO_THROW(validate_network_options("none", {}, {}, {}));
  EXPECT_NO_THROW(validate_network_options("container:abc", {}, {}, {}));
  EXPECT_THROW(validate_network_options("none", {{"lab0", "", "", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("host", {}, {{"", 8080, 0, 80, "tcp"}}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "", {}}, {"none", "", "", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "", {}}, {"lab0", "", "", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "10.0.0", "", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "01:00:00:00:00:01", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "", {"bad alias"}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("x", {{"much-too-long-network-name", "", "", {}}}, {}, {}), UsageError);
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "", {}}}, {{"", 8080, 0, 80, "tcp"}, {"", 8080, 0, 81, "tcp"}}, {}),
               UsageError);  // one host port twice
  EXPECT_NO_THROW(validate_network_options("lab0", {{"lab0", "", "", {}}},
                                           {{"", 8080, 0, 80, "tcp"}, {"", 8080, 0, 80, "udp"}}, {}));
  EXPECT_THROW(validate_network_options("lab0", {{"lab0", "", "", {}}}, {}, {"dns.example"}), UsageError);
}

TEST(NetPorts, ParsesProcNet) {
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
      "   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n"
      "   2: 0100007F:A000 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n";
  EXPECT_EQ(parse_proc_net(tcp, "tcp", false),
            (std::vector<Listener>{{"tcp", 8080, parse_ipv4("127.0.0.1")}, {"tcp", 80, std::nullopt}}));
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 0\n"
      "   1: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 0\n"
      "   2: 000080FE00000000FF005450B6AD1DFE:1F93 00000000000000000000000000000000:0000 0A 0\n";
  EXPECT_EQ(parse_proc_net(tcp6, "tcp", true),
            (std::vector<Listener>{{"tcp", 8081, std::nullopt}, {"tcp", 8082, parse_ipv4("127.0.0.1")}}));
  const std::string udp =
      "   sl  local_address rem_address   st\n"
      "  1: 00000000:0035 00000000:0000 07 0\n"
      "  2: 0100007F:0036 0200007F:0035 01 0\n";
  EXPECT_EQ(parse_proc_net(udp, "udp", false), (std::vector<Listener>{{"udp", 53, std::nullopt}}));
}

TEST(NetPorts, PortTakenAndPicking) {
  const std::vector<Listener> ls = {{"tcp", 8080, parse_ipv4("127.0.0.1")}, {"tcp", 80, std::nullopt}};
  EXPECT_TRUE(port_taken_by(ls, "tcp", 80, parse_ipv4("10.0.0.1")));
  EXPECT_TRUE(port_taken_by(ls, "tcp", 8080, std::nullopt));
  EXPECT_TRUE(port_taken_by(ls, "tcp", 8080, parse_ipv4("127.0.0.1")));
  EXPECT_FALSE(port_taken_by(ls, "tcp", 8080, parse_ipv4("10.0.0.1")));
  EXPECT_FALSE(port_taken_by(ls, "udp", 80, std::nullopt));
  const std::vector<Forward> fw = {{"tcp", std::nullopt, 32768, parse_ipv4("10.0.0.2"), 80, "x"}};
  EXPECT_EQ(pick_free_port(32768, 32770, "tcp", std::nullopt, {{"tcp", 32769, std::nullopt}}, fw), 32770);
  EXPECT_EQ(pick_free_port(32768, 32768, "udp", std::nullopt, {}, fw), 32768);
  EXPECT_FALSE(pick_free_port(32768, 32768, "tcp", std::nullopt, {}, fw).has_value());
}

TEST(NetFiles, Hosts) {
  const std::string h = render_hosts({"10.89.0.2", {"abc123", "web", "web", ""}},
                                     {{"10.89.0.3", {"db", "database"}}, {"10.90.0.4", {"db", "other"}}});
  EXPECT_NE(h.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(h.find("10.89.0.2\tabc123 web\n"), std::string::npos) << h;
  EXPECT_NE(h.find("10.89.0.3\tdb database\n"), std::string::npos) << h;
  EXPECT_NE(h.find("10.90.0.4\tother\n"), std::string::npos) << h;  // "db" is taken by the first
}

TEST(NetFiles, ResolvConf) {
  const std::string host = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\nsearch example.org\noptions edns0\n";
  EXPECT_EQ(render_resolv_conf(host, {}), "nameserver 192.0.2.53\nsearch example.org\noptions edns0\n");
  EXPECT_EQ(render_resolv_conf(host, {"1.1.1.1"}), "nameserver 1.1.1.1\nsearch example.org\noptions edns0\n");
  EXPECT_EQ(render_resolv_conf("nameserver 127.0.0.53\n", {}), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_TRUE(has_usable_nameserver(host));
  EXPECT_FALSE(has_usable_nameserver("nameserver 127.0.0.53\nnameserver ::1\n"));
}
