#include "net/nft.hpp"

#include <arpa/inet.h>
#include <libnftnl/common.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "runtime/sys/log.hpp"

namespace nrun::net {

namespace {
// nftables' datatype numbers (nftables src/datatype.h), concatenated
// TYPE_BITS at a time, as nft itself does for `type a . b`.
constexpr uint32_t kTypeIpAddr = 7, kTypeInetProto = 12, kTypeInetService = 13, kTypeIfname = 41;
constexpr uint32_t kTypeBits = 6;
constexpr uint32_t kByteorderHost = 1;  // nftables' BYTEORDER_HOST_ENDIAN
constexpr uint32_t concat_type(std::initializer_list<uint32_t> types) {
  uint32_t t = 0;
  for (uint32_t x : types) t = (t << kTypeBits) | x;
  return t;
}
constexpr size_t kMsgBuf = 64 * 1024;
constexpr size_t kPerElement = 512;  // generous bound of one element's attributes

// Registers as nft names them: reg 1 is 16 bytes wide and overlaps the
// 32-bit registers 8..11, so "reg 9" holds bytes 4..7 of reg 1.
constexpr uint32_t kReg1 = NFT_REG_1, kReg9 = NFT_REG32_01, kReg10 = NFT_REG32_02;

std::string family_table() { return std::string("inet ") + kNftTable; }

NftExpr expr(const char* name) {
  NftExpr e(nftnl_expr_alloc(name));
  if (!e) throw sys::Error(std::string("allocate nft expression '") + name + "': out of memory");
  return e;
}

NftExpr meta(uint32_t key, uint32_t dreg) {
  auto e = expr("meta");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, dreg);
  return e;
}

NftExpr cmp(uint32_t op, const void* data, uint32_t len) {
  auto e = expr("cmp");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, kReg1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, len);
  return e;
}

NftExpr payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
  auto e = expr("payload");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, dreg);
  return e;
}

NftExpr bitwise_and(uint32_t mask_be) {
  auto e = expr("bitwise");
  const uint32_t zero = 0;
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, kReg1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, kReg1);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, &mask_be, 4);
  nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, &zero, 4);
  return e;
}

NftExpr lookup(const char* set, bool map) {
  auto e = expr("lookup");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, kReg1);
  if (map) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, kReg1);
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set);
  return e;
}

NftExpr ct_status() {
  auto e = expr("ct");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, kReg1);
  return e;
}

NftExpr verdict(uint32_t v) {
  auto e = expr("immediate");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, v);
  return e;
}

// An interface name as nft compares it: IFNAMSIZ bytes, zero padded.
std::array<char, IFNAMSIZ> ifname_bytes(const std::string& name) {
  std::array<char, IFNAMSIZ> b{};
  std::memcpy(b.data(), name.data(), std::min(name.size(), b.size() - 1));
  return b;
}

void match_ifname(std::vector<NftExpr>& x, uint32_t key, uint32_t op, const std::string& name) {
  const auto b = ifname_bytes(name);
  x.push_back(meta(key, kReg1));
  x.push_back(cmp(op, b.data(), b.size()));
}

void match_ipv4(std::vector<NftExpr>& x) {
  const uint8_t v4 = NFPROTO_IPV4;
  x.push_back(meta(NFT_META_NFPROTO, kReg1));
  x.push_back(cmp(NFT_CMP_EQ, &v4, 1));
}

void match_local_daddr(std::vector<NftExpr>& x) {
  auto f = expr("fib");
  nftnl_expr_set_u32(f.get(), NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
  nftnl_expr_set_u32(f.get(), NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nftnl_expr_set_u32(f.get(), NFTNL_EXPR_FIB_DREG, kReg1);
  x.push_back(std::move(f));
  const uint32_t local = RTN_LOCAL;
  x.push_back(cmp(NFT_CMP_EQ, &local, 4));
}

void match_ct_dnat(std::vector<NftExpr>& x, uint32_t op) {
  const uint32_t zero = 0;
  x.push_back(ct_status());
  auto b = expr("bitwise");
  const uint32_t mask = IPS_DST_NAT;
  nftnl_expr_set_u32(b.get(), NFTNL_EXPR_BITWISE_SREG, kReg1);
  nftnl_expr_set_u32(b.get(), NFTNL_EXPR_BITWISE_DREG, kReg1);
  nftnl_expr_set_u32(b.get(), NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set(b.get(), NFTNL_EXPR_BITWISE_MASK, &mask, 4);
  nftnl_expr_set(b.get(), NFTNL_EXPR_BITWISE_XOR, &zero, 4);
  x.push_back(std::move(b));
  x.push_back(cmp(op, &zero, 4));  // NEQ 0: dnat; EQ 0: not dnat
}

void dnat_through(std::vector<NftExpr>& x, const char* map) {
  auto n = expr("nat");
  nftnl_expr_set_u32(n.get(), NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32(n.get(), NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
  nftnl_expr_set_u32(n.get(), NFTNL_EXPR_NAT_REG_ADDR_MIN, kReg1);
  nftnl_expr_set_u32(n.get(), NFTNL_EXPR_NAT_REG_PROTO_MIN, kReg9);
  x.push_back(lookup(map, true));
  x.push_back(std::move(n));
}

// The expressions of one planned rule.
std::vector<NftExpr> rule_exprs(const NatRule& r) {
  std::vector<NftExpr> x;
  switch (r.kind) {
    case RuleKind::dnat_ip:
      match_local_daddr(x);
      match_ipv4(x);
      x.push_back(payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, kReg1));  // ip daddr
      x.push_back(meta(NFT_META_L4PROTO, kReg9));
      x.push_back(payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg10));  // th dport
      dnat_through(x, kDnatIpMap);
      break;
    case RuleKind::dnat_any:
      match_local_daddr(x);
      match_ipv4(x);
      x.push_back(meta(NFT_META_L4PROTO, kReg1));
      x.push_back(payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, kReg9));
      dnat_through(x, kDnatAnyMap);
      break;
    case RuleKind::masquerade_out: {
      match_ipv4(x);
      const uint32_t mask = htonl(r.subnet.mask()), net = htonl(r.subnet.network().value);
      x.push_back(payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, kReg1));  // ip saddr
      x.push_back(bitwise_and(mask));
      x.push_back(cmp(NFT_CMP_EQ, &net, 4));
      match_ifname(x, NFT_META_OIFNAME, NFT_CMP_NEQ, r.bridge);
      x.push_back(expr("masq"));
      break;
    }
    case RuleKind::masquerade_hairpin:
      match_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, r.bridge);
      match_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, r.bridge);
      match_ct_dnat(x, NFT_CMP_NEQ);
      x.push_back(expr("masq"));
      break;
    case RuleKind::isolate:
      match_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, r.bridge);
      match_ifname(x, NFT_META_OIFNAME, NFT_CMP_NEQ, r.bridge);
      x.push_back(meta(NFT_META_OIFNAME, kReg1));
      x.push_back(lookup(kBridgesSet, false));
      match_ct_dnat(x, NFT_CMP_EQ);
      x.push_back(verdict(NF_DROP));
      break;
    case RuleKind::internal_in:
      match_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, r.bridge);
      match_ifname(x, NFT_META_IIFNAME, NFT_CMP_NEQ, r.bridge);
      x.push_back(verdict(NF_DROP));
      break;
    case RuleKind::internal_out:
      match_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, r.bridge);
      match_ifname(x, NFT_META_OIFNAME, NFT_CMP_NEQ, r.bridge);
      x.push_back(verdict(NF_DROP));
      break;
  }
  return x;
}

uint32_t hook_number(const std::string& hook) {
  if (hook == "prerouting") return NF_INET_PRE_ROUTING;
  if (hook == "output") return NF_INET_LOCAL_OUT;
  if (hook == "postrouting") return NF_INET_POST_ROUTING;
  if (hook == "forward") return NF_INET_FORWARD;
  throw sys::Error("unknown netfilter hook '" + hook + "'");
}

NftTable make_table() {
  NftTable t(nftnl_table_alloc());
  if (!t) throw sys::Error("allocate nft table: out of memory");
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, kNftTable);
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
  return t;
}

NftChain make_chain(const ChainPlan& p, bool with_hook) {
  NftChain c(nftnl_chain_alloc());
  if (!c) throw sys::Error("allocate nft chain: out of memory");
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kNftTable);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, p.name.c_str());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  if (with_hook) {
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook_number(p.hook));
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, p.priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, p.type.c_str());
  }
  return c;
}

NftRule make_rule(const std::string& chain) {
  NftRule r(nftnl_rule_alloc());
  if (!r) throw sys::Error("allocate nft rule: out of memory");
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kNftTable);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  return r;
}

// The three sets with their types, for NEWSET.
NftSet make_set_declaration(const char* name, uint32_t id) {
  NftSet s = make_set(name);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  if (std::strcmp(name, kBridgesSet) == 0) {
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, 0);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, kTypeIfname);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, IFNAMSIZ);
    // As nft declares it: interface names are host-order strings (without
    // this, `nft list` prints the elements as "").
    std::unique_ptr<nftnl_udata_buf, CFree<nftnl_udata_buf_free>> ud(nftnl_udata_buf_alloc(64));
    if (!ud || !nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kByteorderHost))
      throw sys::Error("nft set userdata");
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
    return s;
  }
  const bool by_ip = std::strcmp(name, kDnatIpMap) == 0;
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_MAP);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE,
                    by_ip ? concat_type({kTypeIpAddr, kTypeInetProto, kTypeInetService})
                          : concat_type({kTypeInetProto, kTypeInetService}));
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, by_ip ? 12 : 8);
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, concat_type({kTypeIpAddr, kTypeInetService}));
  nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 8);
  return s;
}

void add_element(nftnl_set* s, const void* key, uint32_t key_len, const void* data, uint32_t data_len,
                 const std::string& comment) {
  NftSetElem e(nftnl_set_elem_alloc());
  if (!e) throw sys::Error("allocate nft element: out of memory");
  nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, key, key_len);
  if (data) nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_DATA, data, data_len);
  if (!comment.empty()) {
    std::unique_ptr<nftnl_udata_buf, CFree<nftnl_udata_buf_free>> ud(nftnl_udata_buf_alloc(256));
    if (!ud || !nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_SET_ELEM_COMMENT, comment.c_str()))
      throw sys::Error("nft element comment too long");
    nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud.get()),
                       nftnl_udata_buf_len(ud.get()));
  }
  nftnl_set_elem_add(s, e.release());  // the set owns it now
}

void add_bridge_element(nftnl_set* s, const std::string& bridge, const std::string& comment = "") {
  const auto b = ifname_bytes(bridge);
  add_element(s, b.data(), b.size(), nullptr, 0, comment);
}

const char* map_of(const Forward& f) { return f.host_ip ? kDnatIpMap : kDnatAnyMap; }

std::string describe_forward(const Forward& f) {
  return (f.host_ip ? f.host_ip->str() + ":" : std::string()) + std::to_string(f.host_port) + "/" + f.proto +
         " -> " + f.container_ip.str() + ":" + std::to_string(f.container_port);
}


std::string errno_hint(int e) {
  switch (e) {
    case EPERM: return " (needs root or CAP_NET_ADMIN)";
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return " (the kernel lacks nf_tables support: modules nf_tables, nft_nat, nft_masq, nft_fib_inet, nft_ct)";
    default: return "";
  }
}
}  // namespace

NftSet make_set(const char* name) {
  NftSet s(nftnl_set_alloc());
  if (!s) throw sys::Error("allocate nft set: out of memory");
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kNftTable);
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  return s;
}

NftError::NftError(int e, const std::string& what)
    : sys::Error("nftables: " + what + ": " + std::strerror(e) + errno_hint(e)), err(e) {}

// ------------------------------------------------------------------ batch

NftBatch::NftBatch(uint32_t first_seq) : first_seq_(first_seq), seq_(first_seq) {
  char hdr[256];
  const nlmsghdr* nlh = nftnl_batch_begin(hdr, seq_++);
  buf_.insert(buf_.end(), hdr, hdr + NLMSG_ALIGN(nlh->nlmsg_len));
}

template <class F>
void NftBatch::append(uint16_t type, uint16_t flags, F&& payload, std::string what, size_t room) {
  if (finished_) throw sys::Error("nft batch already finished");
  const size_t old = buf_.size();
  buf_.resize(old + room);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf_.data() + old, type, NFPROTO_INET, flags | NLM_F_ACK, seq_++);
  payload(nlh);
  buf_.resize(old + NLMSG_ALIGN(nlh->nlmsg_len));
  whats_.push_back(std::move(what));
}

void NftBatch::add_table(uint16_t type, uint16_t flags, const nftnl_table* t, std::string what) {
  append(type, flags, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t); }, std::move(what));
}
void NftBatch::add_chain(uint16_t type, uint16_t flags, const nftnl_chain* c, std::string what) {
  append(type, flags, [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c); }, std::move(what));
}
void NftBatch::add_rule(uint16_t type, uint16_t flags, nftnl_rule* r, std::string what) {
  append(type, flags, [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r); }, std::move(what));
}
void NftBatch::add_set(uint16_t type, uint16_t flags, nftnl_set* s, std::string what) {
  append(type, flags, [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s); }, std::move(what));
}
void NftBatch::add_elems(uint16_t type, uint16_t flags, nftnl_set* s, std::string what) {
  // One message carries all elements; make room for them first.
  size_t n = 0;
  nftnl_set_elem_foreach(
      s, [](nftnl_set_elem*, void* count) -> int { ++*static_cast<size_t*>(count); return 0; }, &n);
  append(type, flags, [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s); }, std::move(what),
         kMsgBuf + n * kPerElement);
}

void NftBatch::finish() {
  if (finished_) return;
  char hdr[256];
  const nlmsghdr* nlh = nftnl_batch_end(hdr, seq_++);
  buf_.insert(buf_.end(), hdr, hdr + NLMSG_ALIGN(nlh->nlmsg_len));
  finished_ = true;
}

std::string NftBatch::what_of(uint32_t seq) const {
  if (seq <= first_seq_ || seq - first_seq_ - 1 >= whats_.size()) return "batch";
  return whats_[seq - first_seq_ - 1];
}

// ---------------------------------------------------------------- builders

NftBatch build_ensure_network(const FwNetwork& n, uint32_t seq) {
  NftBatch b(seq);
  const auto table = make_table();
  b.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, table.get(), "create table " + family_table());
  uint32_t set_id = 1;
  for (const char* name : {kDnatAnyMap, kDnatIpMap, kBridgesSet}) {
    auto s = make_set_declaration(name, set_id++);
    b.add_set(NFT_MSG_NEWSET, NLM_F_CREATE, s.get(), std::string("create set ") + name);
  }
  auto chains = base_chains();
  for (auto& c : network_chains(n)) chains.push_back(std::move(c));
  for (const auto& c : chains) {
    const auto chain = make_chain(c, true);
    b.add_chain(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain.get(), "create chain " + c.name);
    auto flush = make_rule(c.name);
    b.add_rule(NFT_MSG_DELRULE, 0, flush.get(), "flush chain " + c.name);
    for (const auto& r : c.rules) {
      auto rule = make_rule(c.name);
      for (auto& e : rule_exprs(r)) nftnl_rule_add_expr(rule.get(), e.release());  // the rule owns it
      b.add_rule(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, rule.get(),
                 "add rule to " + c.name + ": " + to_nft_syntax(r));
    }
  }
  // Last, the bridge's element with the fingerprint of what this batch made
  // (create, delete, create: an element added again keeps its old comment).
  auto bridges = make_set(kBridgesSet);
  add_bridge_element(bridges.get(), n.bridge);
  b.add_elems(NFT_MSG_NEWSETELEM, NLM_F_CREATE, bridges.get(), "add '" + n.bridge + "' to @bridges");
  auto old = make_set(kBridgesSet);
  add_bridge_element(old.get(), n.bridge);
  b.add_elems(NFT_MSG_DELSETELEM, 0, old.get(), "remove '" + n.bridge + "' from @bridges");
  auto fresh = make_set(kBridgesSet);
  add_bridge_element(fresh.get(), n.bridge, ruleset_fingerprint(n));
  b.add_elems(NFT_MSG_NEWSETELEM, NLM_F_CREATE, fresh.get(),
              "add '" + n.bridge + "' to @bridges, comment " + ruleset_fingerprint(n));
  return b;
}

std::string ruleset_fingerprint(const FwNetwork& n) {
  // FNV-1a over every chain and rule the batch writes: a new nrun whose
  // rules differ sees another fingerprint and rewrites them.
  uint64_t h = 1469598103934665603ull;
  auto feed = [&](const std::string& text) {
    for (const unsigned char c : text + '\n') h = (h ^ c) * 1099511628211ull;
  };
  feed(family_table());
  auto chains = base_chains();
  for (auto& c : network_chains(n)) chains.push_back(std::move(c));
  for (const auto& c : chains) {
    feed(c.name + " " + c.type + " " + c.hook + " " + std::to_string(c.priority));
    for (const auto& r : c.rules) feed(to_nft_syntax(r));
  }
  char hex[32];
  std::snprintf(hex, sizeof hex, "rules-%016llx", static_cast<unsigned long long>(h));
  return hex;
}

NftBatch build_remove_network(const FwNetwork& n, uint32_t seq) {
  NftBatch b(seq);
  const auto table = make_table();
  b.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, table.get(), "create table " + family_table());
  for (const auto& c : network_chains(n)) {
    const auto chain = make_chain(c, true);
    b.add_chain(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain.get(), "create chain " + c.name);
    auto flush = make_rule(c.name);
    b.add_rule(NFT_MSG_DELRULE, 0, flush.get(), "flush chain " + c.name);
    const auto del = make_chain(c, false);
    b.add_chain(NFT_MSG_DELCHAIN, 0, del.get(), "delete chain " + c.name);
  }
  auto decl = make_set_declaration(kBridgesSet, 1);
  b.add_set(NFT_MSG_NEWSET, NLM_F_CREATE, decl.get(), std::string("create set ") + kBridgesSet);
  auto add = make_set(kBridgesSet);
  add_bridge_element(add.get(), n.bridge);
  b.add_elems(NFT_MSG_NEWSETELEM, NLM_F_CREATE, add.get(), "add '" + n.bridge + "' to @bridges");
  auto del = make_set(kBridgesSet);
  add_bridge_element(del.get(), n.bridge);
  b.add_elems(NFT_MSG_DELSETELEM, 0, del.get(), "remove '" + n.bridge + "' from @bridges");
  return b;
}

std::vector<uint8_t> forward_key(const Forward& f) {
  std::vector<uint8_t> k;
  if (f.host_ip) {
    const auto ip = f.host_ip->bytes();
    k.insert(k.end(), ip.begin(), ip.end());
  }
  k.insert(k.end(), {ip_proto_number(f.proto), 0, 0, 0});
  k.insert(k.end(), {static_cast<uint8_t>(f.host_port >> 8), static_cast<uint8_t>(f.host_port & 255), 0, 0});
  return k;
}

std::vector<uint8_t> forward_data(const Forward& f) {
  const auto ip = f.container_ip.bytes();
  std::vector<uint8_t> d(ip.begin(), ip.end());
  d.insert(d.end(),
           {static_cast<uint8_t>(f.container_port >> 8), static_cast<uint8_t>(f.container_port & 255), 0, 0});
  return d;
}

bool decode_forward(const std::string& map, const void* key, uint32_t key_len, const void* data, uint32_t data_len,
                    const std::string& comment, Forward& out) {
  const auto* k = static_cast<const uint8_t*>(key);
  const auto* d = static_cast<const uint8_t*>(data);
  const bool by_ip = map == kDnatIpMap;
  if (!k || !d || key_len != (by_ip ? 12u : 8u) || data_len != 8) return false;
  Forward f;
  size_t off = 0;
  if (by_ip) {
    f.host_ip = Ipv4{(uint32_t{k[0]} << 24) | (uint32_t{k[1]} << 16) | (uint32_t{k[2]} << 8) | k[3]};
    off = 4;
  }
  if (k[off] != IPPROTO_TCP && k[off] != IPPROTO_UDP) return false;
  f.proto = ip_proto_name(k[off]);
  f.host_port = static_cast<uint16_t>((k[off + 4] << 8) | k[off + 5]);
  f.container_ip = Ipv4{(uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3]};
  f.container_port = static_cast<uint16_t>((d[4] << 8) | d[5]);
  f.owner = comment;
  out = f;
  return true;
}

namespace {
NftBatch build_forwards(uint16_t type, uint16_t flags, const std::vector<Forward>& fwds, uint32_t seq,
                        const char* verb) {
  // A nested netlink attribute holds at most 64 KiB: a few hundred elements.
  constexpr size_t kPerMessage = 200;
  NftBatch b(seq);
  for (const char* map : {kDnatAnyMap, kDnatIpMap}) {
    std::vector<const Forward*> mine;
    for (const auto& f : fwds)
      if (std::strcmp(map_of(f), map) == 0) mine.push_back(&f);
    for (size_t start = 0; start < mine.size(); start += kPerMessage) {
      auto s = make_set(map);
      std::string what;
      for (size_t i = start; i < std::min(mine.size(), start + kPerMessage); ++i) {
        const Forward& f = *mine[i];
        const auto key = forward_key(f);
        const auto data = forward_data(f);
        add_element(s.get(), key.data(), key.size(), data.data(), data.size(),
                    type == NFT_MSG_NEWSETELEM ? f.owner : "");
        what += (what.empty() ? "" : ", ") + describe_forward(f);
      }
      b.add_elems(type, flags, s.get(), std::string(verb) + " @" + map + " " + what);
    }
  }
  return b;
}
}  // namespace

NftBatch build_add_forwards(const std::vector<Forward>& f, uint32_t seq) {
  return build_forwards(NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL, f, seq, "publish");
}

NftBatch build_delete_forwards(const std::vector<Forward>& f, uint32_t seq) {
  return build_forwards(NFT_MSG_DELSETELEM, 0, f, seq, "unpublish");
}

// ---------------------------------------------------------------- decoding

std::vector<std::string> describe_batch(const NftBatch& b) {
  std::vector<std::string> out;
  const auto& bytes = b.bytes();
  int len = static_cast<int>(bytes.size());
  std::vector<char> buf(1 << 20);
  char* text = buf.data();
  const size_t text_size = buf.size();
  for (auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data()); mnl_nlmsg_ok(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    const uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
    if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) continue;
    std::string flags;
    if (nlh->nlmsg_flags & NLM_F_CREATE) flags += " create";
    if (nlh->nlmsg_flags & NLM_F_EXCL) flags += " excl";
    text[0] = '\0';
    std::string kind;
    switch (type) {
      case NFT_MSG_NEWTABLE:
      case NFT_MSG_DELTABLE: {
        NftTable t(nftnl_table_alloc());
        nftnl_table_nlmsg_parse(nlh, t.get());
        nftnl_table_snprintf(text, text_size, t.get(), NFTNL_OUTPUT_DEFAULT, 0);
        kind = type == NFT_MSG_NEWTABLE ? "newtable" : "deltable";
        break;
      }
      case NFT_MSG_NEWCHAIN:
      case NFT_MSG_DELCHAIN: {
        NftChain c(nftnl_chain_alloc());
        nftnl_chain_nlmsg_parse(nlh, c.get());
        nftnl_chain_snprintf(text, text_size, c.get(), NFTNL_OUTPUT_DEFAULT, 0);
        kind = type == NFT_MSG_NEWCHAIN ? "newchain" : "delchain";
        break;
      }
      case NFT_MSG_NEWRULE:
      case NFT_MSG_DELRULE: {
        NftRule r(nftnl_rule_alloc());
        nftnl_rule_nlmsg_parse(nlh, r.get());
        nftnl_rule_snprintf(text, text_size, r.get(), NFTNL_OUTPUT_DEFAULT, 0);
        kind = type == NFT_MSG_NEWRULE ? "newrule" : "delrule";
        break;
      }
      case NFT_MSG_NEWSET: {
        NftSet s(nftnl_set_alloc());
        nftnl_set_nlmsg_parse(nlh, s.get());
        nftnl_set_snprintf(text, text_size, s.get(), NFTNL_OUTPUT_DEFAULT, 0);
        kind = "newset";
        break;
      }
      case NFT_MSG_NEWSETELEM:
      case NFT_MSG_DELSETELEM: {
        // libnftnl 1.2.4 numbers the elements of a list 1, 2, 3... when it
        // builds one (the kernel ignores the type) but parses only type
        // NFTA_LIST_ELEM: renumber a copy so every element decodes.
        std::vector<char> copy(reinterpret_cast<const char*>(nlh), reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len);
        auto* msg = reinterpret_cast<nlmsghdr*>(copy.data());
        auto* tail = static_cast<char*>(mnl_nlmsg_get_payload_tail(msg));
        for (auto* a = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(msg, sizeof(nfgenmsg)));
             mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<char*>(a))); a = mnl_attr_next(a)) {
          if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS) continue;
          auto* end = reinterpret_cast<char*>(a) + a->nla_len;
          for (auto* e = static_cast<nlattr*>(mnl_attr_get_payload(a));
               mnl_attr_ok(e, static_cast<int>(end - reinterpret_cast<char*>(e))); e = mnl_attr_next(e))
            e->nla_type = static_cast<uint16_t>((e->nla_type & ~NLA_TYPE_MASK) | NFTA_LIST_ELEM);
        }
        NftSet s(nftnl_set_alloc());
        nftnl_set_elems_nlmsg_parse(msg, s.get());
        // nftnl_set_snprintf shows one element; list them all.
        std::snprintf(text, text_size, "%s %s %u", nftnl_set_get_str(s.get(), NFTNL_SET_NAME),
                      nftnl_set_get_str(s.get(), NFTNL_SET_TABLE), nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS));
        std::string all = text;
        nftnl_set_elem_foreach(
            s.get(),
            [](nftnl_set_elem* e, void* data) -> int {
              char line[4096];
              nftnl_set_elem_snprintf(line, sizeof line, e, NFTNL_OUTPUT_DEFAULT, 0);
              *static_cast<std::string*>(data) += std::string("\n\t") + line;
              return 0;
            },
            &all);
        std::snprintf(text, text_size, "%s", all.c_str());
        kind = type == NFT_MSG_NEWSETELEM ? "newsetelem" : "delsetelem";
        break;
      }
      default: kind = "msg " + std::to_string(type);
    }
    std::string t = text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    out.push_back(kind + flags + ": " + t);
  }
  return out;
}

}  // namespace nrun::net
