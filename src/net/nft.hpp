// nf_tables through libnftnl messages sent in libmnl batches. The batch
// builders are pure (they only fill a buffer), so unit tests decode and
// compare what would be sent; NftFirewall (nft_firewall.cpp) sends them.
//
// Idempotent batches (every one applies atomically, one error aborts all):
//   ensure: NEWTABLE (create, no EXCL), NEWSET x3, per chain NEWCHAIN +
//           DELRULE with only the chain (a flush) + NEWRULE..., NEWSETELEM
//           + DELSETELEM + NEWSETELEM of the bridge into @bridges, carrying
//           the rules' fingerprint; skipped when that element is there
//   remove: NEWTABLE, per chain NEWCHAIN + flush + DELCHAIN, NEWSET +
//           NEWSETELEM + DELSETELEM of the bridge (create-then-delete never
//           hits ENOENT)
//   ports:  NEWSETELEM with EXCL (a taken port fails the whole batch);
//           removal deletes the elements a dump found with the owner's id.
#pragma once
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/firewall.hpp"
#include "net/nat.hpp"
#include "net/netlink.hpp"

namespace nrun::net {

using MnlSock = std::unique_ptr<mnl_socket, CFree<mnl_socket_close>>;
using NftTable = std::unique_ptr<nftnl_table, CFree<nftnl_table_free>>;
using NftChain = std::unique_ptr<nftnl_chain, CFree<nftnl_chain_free>>;
using NftRule = std::unique_ptr<nftnl_rule, CFree<nftnl_rule_free>>;
using NftExpr = std::unique_ptr<nftnl_expr, CFree<nftnl_expr_free>>;
using NftSet = std::unique_ptr<nftnl_set, CFree<nftnl_set_free>>;
using NftSetElem = std::unique_ptr<nftnl_set_elem, CFree<nftnl_set_elem_free>>;

// An nf_tables failure: errno of the first message the kernel refused and
// what that message was for.
struct NftError : sys::Error {
  int err;
  NftError(int e, const std::string& what);
};

// One transaction: BEGIN, messages (each with NLM_F_ACK), END.
class NftBatch {
 public:
  explicit NftBatch(uint32_t first_seq = 1);

  void add_table(uint16_t type, uint16_t flags, const nftnl_table* t, std::string what);
  void add_chain(uint16_t type, uint16_t flags, const nftnl_chain* c, std::string what);
  void add_rule(uint16_t type, uint16_t flags, nftnl_rule* r, std::string what);
  void add_set(uint16_t type, uint16_t flags, nftnl_set* s, std::string what);
  void add_elems(uint16_t type, uint16_t flags, nftnl_set* s, std::string what);  // s carries the elements
  // Appends END; the batch is then ready to send.
  void finish();

  const std::vector<char>& bytes() const { return buf_; }
  size_t size() const { return whats_.size(); }  // messages between BEGIN and END
  bool empty() const { return whats_.empty(); }
  // What message `seq` was for (error messages).
  std::string what_of(uint32_t seq) const;
  uint32_t first_seq() const { return first_seq_; }
  uint32_t next_seq() const { return seq_; }

 private:
  template <class F>
  void append(uint16_t type, uint16_t flags, F&& payload, std::string what, size_t room = 64 * 1024);
  std::vector<char> buf_;
  std::vector<std::string> whats_;
  uint32_t first_seq_, seq_;
  bool finished_ = false;
};

// Pure builders.
// An nft set (or map) of nrun's table by name, for adding or deleting elements.
NftSet make_set(const char* name);

NftBatch build_ensure_network(const FwNetwork& n, uint32_t seq = 1);
// What build_ensure_network writes, as a short text: the comment of the
// network's element in @bridges. Finding it there means the batch was
// applied (it is the batch's last message, and batches are atomic), so an
// attach can skip the batch and the commit it costs.
std::string ruleset_fingerprint(const FwNetwork& n);
NftBatch build_remove_network(const FwNetwork& n, uint32_t seq = 1);
NftBatch build_add_forwards(const std::vector<Forward>& f, uint32_t seq = 1);
NftBatch build_delete_forwards(const std::vector<Forward>& f, uint32_t seq = 1);

// Decodes a batch into one text per message (libnftnl's debug format,
// as `nft --debug=netlink` prints rules), for tests and debug logs.
std::vector<std::string> describe_batch(const NftBatch& b);

// Element encoding of the DNAT maps (exposed for tests).
std::vector<uint8_t> forward_key(const Forward& f);
std::vector<uint8_t> forward_data(const Forward& f);
// Decodes an element of `map`; false when it is not one of nrun's.
bool decode_forward(const std::string& map, const void* key, uint32_t key_len, const void* data, uint32_t data_len,
                    const std::string& comment, Forward& out);

class NftFirewall : public Firewall {
 public:
  NftFirewall();  // a NETLINK_NETFILTER socket in the calling thread's namespace

  void ensure_network(const FwNetwork& n) override;
  void remove_network(const FwNetwork& n) override;
  void add_forwards(const std::vector<Forward>& forwards) override;
  size_t remove_forwards_of(const std::string& owner) override;
  std::vector<Forward> list_forwards() override;

 private:
  void send(NftBatch& b);
  // Before each request: drops what an exchange not read to its end left.
  void begin_request();
  std::vector<Forward> dump_map(const char* map);
  // The comment of `bridge`'s element in @bridges; nullopt when there is
  // no such element (or table, or set).
  std::optional<std::string> try_bridge_comment(const std::string& bridge);
  MnlSock sock_;
  uint32_t portid_ = 0;
  uint32_t seq_;
  bool dirty_ = false;  // the socket may hold replies no request is waiting for
};

}  // namespace nrun::net
