// NftFirewall: sends nft.cpp's batches on a NETLINK_NETFILTER socket,
// reads every ACK, and lists the DNAT maps (dumps interrupted by concurrent
// changes are restarted, a bounded number of times).
#include <arpa/inet.h>  // glibc's netinet/in.h before the kernel's linux/in.h
#include <libnftnl/common.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <set>

#include "net/netlink.hpp"
#include "net/nft.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::net {

namespace {

// The comment an element carries (its owner's container id).
std::string comment_of(nftnl_set_elem* e) {
  uint32_t len = 0;
  const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
  if (!ud || !len) return "";
  const nftnl_udata* tb[NFTNL_UDATA_SET_ELEM_MAX + 1] = {};
  nftnl_udata_parse(
      ud, len,
      [](const nftnl_udata* attr, void* data) -> int {
        auto** t = static_cast<const nftnl_udata**>(data);
        const uint8_t type = nftnl_udata_type(attr);
        if (type <= NFTNL_UDATA_SET_ELEM_MAX) t[type] = attr;
        return 0;
      },
      tb);
  if (!tb[NFTNL_UDATA_SET_ELEM_COMMENT]) return "";
  const auto* s = static_cast<const char*>(nftnl_udata_get(tb[NFTNL_UDATA_SET_ELEM_COMMENT]));
  return std::string(s, strnlen(s, nftnl_udata_len(tb[NFTNL_UDATA_SET_ELEM_COMMENT])));
}
}  // namespace

// ---------------------------------------------------------------- firewall

NftFirewall::NftFirewall() : seq_(static_cast<uint32_t>(::time(nullptr))) {
  sock_.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
  if (!sock_) sys::check(-1, "open netfilter netlink socket");
  sys::check(mnl_socket_bind(sock_.get(), 0, MNL_SOCKET_AUTOPID), "bind netfilter netlink socket");
  portid_ = mnl_socket_get_portid(sock_.get());
}

void NftFirewall::begin_request() {
  // The last exchange was not read to its end (a failed receive, an early
  // stop): drop what is left, so the acks of its sequence numbers cannot be
  // taken for this one's and a dump left running cannot make the next one
  // fail with EBUSY.
  if (dirty_ && drain_netlink(mnl_socket_get_fd(sock_.get())) < 0)
    sys::check(-1, "drop the unread replies on the netfilter socket");
  dirty_ = true;  // until this exchange is read in full
}

void NftFirewall::send(NftBatch& b) {
  if (b.empty()) return;
  b.finish();
  if (log::enabled(log::Level::debug))
    for (const auto& line : describe_batch(b)) log::debug("nft: " + line);
  const auto& bytes = b.bytes();
  begin_request();
  seq_ = b.next_seq();  // used, whatever comes of it: never reused for another batch
  if (mnl_socket_sendto(sock_.get(), bytes.data(), bytes.size()) < 0) sys::check(-1, "send nftables batch");
  size_t pending = b.size();
  int first_err = 0;
  uint32_t err_seq = 0;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  while (pending > 0) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      sys::check(-1, "receive nftables replies");
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (nlh->nlmsg_seq <= b.first_seq() || nlh->nlmsg_seq >= b.next_seq()) continue;  // not ours
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      --pending;
      if (e->error != 0 && first_err == 0) {
        first_err = -e->error;
        err_seq = nlh->nlmsg_seq;
      }
    }
    // An aborted batch may leave acks unsent for later messages: once an
    // error is in and nothing more is queued, stop waiting.
    if (first_err != 0) {
      ssize_t more = ::recv(mnl_socket_get_fd(sock_.get()), buf.data(), buf.size(), MSG_DONTWAIT | MSG_PEEK);
      if (more <= 0) break;
    }
  }
  dirty_ = pending > 0;
  if (first_err) throw NftError(first_err, b.what_of(err_seq));
}

std::vector<Forward> NftFirewall::dump_map(const char* map) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<char> req(MNL_SOCKET_BUFFER_SIZE);
    const uint32_t seq = seq_++;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req.data(), NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, seq);
    auto s = make_set(map);
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    begin_request();
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) sys::check(-1, "send nftables dump request");
    std::vector<Forward> out;
    bool interrupted = false, done = false;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    while (!done) {
      ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        sys::check(-1, "receive nftables dump");
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
        if (m->nlmsg_seq != seq) continue;
        if (m->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (m->nlmsg_type == NLMSG_ERROR) {
          const int e = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m))->error;
          if (e == 0) continue;
          if (e == ENOENT) {
            dirty_ = false;  // the answer, complete
            return {};  // no table or map yet: nothing published
          }
          throw NftError(e, std::string("list @") + map);
        }
        NftSet part(nftnl_set_alloc());
        if (nftnl_set_elems_nlmsg_parse(m, part.get()) < 0) continue;
        struct Ctx {
          const char* map;
          std::vector<Forward>* out;
        } ctx{map, &out};
        nftnl_set_elem_foreach(
            part.get(),
            [](nftnl_set_elem* e, void* data) -> int {
              auto* c = static_cast<Ctx*>(data);
              uint32_t klen = 0, dlen = 0;
              const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
              const void* val = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen);
              Forward f;
              if (decode_forward(c->map, key, klen, val, dlen, comment_of(e), f)) c->out->push_back(f);
              return 0;
            },
            &ctx);
      }
    }
    dirty_ = false;
    if (!interrupted) return out;
    log::debug(std::string("nft: dump of @") + map + " interrupted, restarting");
  }
  throw sys::Error(std::string("nftables: listing @") + map + " kept being interrupted by concurrent changes");
}

std::optional<std::string> NftFirewall::try_bridge_comment(const std::string& bridge) {
  // One GETSETELEM for one key (not a dump): the kernel answers with the
  // element, then the ACK; or with ENOENT alone.
  std::vector<char> req(MNL_SOCKET_BUFFER_SIZE);
  const uint32_t seq = seq_++;
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req.data(), NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, seq);
  auto s = make_set(kBridgesSet);
  NftSetElem e(nftnl_set_elem_alloc());
  if (!e) throw sys::Error("allocate nft element: out of memory");
  char name[IFNAMSIZ] = {};
  std::strncpy(name, bridge.c_str(), IFNAMSIZ - 1);
  nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, name, IFNAMSIZ);
  nftnl_set_elem_add(s.get(), e.release());  // the set owns it
  nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
  begin_request();
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) sys::check(-1, "send nftables element lookup");
  std::optional<std::string> comment;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      sys::check(-1, "receive nftables element lookup");
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_seq != seq) continue;
      if (m->nlmsg_type == NLMSG_ERROR) {
        const int err = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m))->error;
        dirty_ = false;  // the ack ends the answer
        if (err == 0) return comment;
        if (err == ENOENT) return std::nullopt;  // no element, set or table
        throw NftError(err, "look up '" + bridge + "' in @" + kBridgesSet);
      }
      NftSet part(nftnl_set_alloc());
      if (nftnl_set_elems_nlmsg_parse(m, part.get()) < 0) continue;
      nftnl_set_elem_foreach(
          part.get(),
          [](nftnl_set_elem* el, void* out) -> int {
            *static_cast<std::optional<std::string>*>(out) = comment_of(el);
            return 0;
          },
          &comment);
    }
  }
}

void NftFirewall::ensure_network(const FwNetwork& n) {
  // Attach calls this for every container. Looking first keeps the common
  // case to one round trip without a commit: a batch that flushes and
  // re-adds rules leaves the old ones to an RCU-deferred free, and closing
  // the socket afterwards waits for it (nf_tables flushes its destroy work
  // on NETLINK_URELEASE), a grace period of several ms per container.
  if (try_bridge_comment(n.bridge) == ruleset_fingerprint(n)) return;
  auto b = build_ensure_network(n, seq_);
  send(b);
}

void NftFirewall::remove_network(const FwNetwork& n) {
  auto b = build_remove_network(n, seq_);
  try {
    send(b);
  } catch (const NftError& e) {
    // The bridge element is created first, so only a vanished table or set
    // (nothing to remove) ends up here.
    if (e.err != ENOENT) throw;
  }
}

void NftFirewall::add_forwards(const std::vector<Forward>& forwards) {
  if (forwards.empty()) return;
  auto b = build_add_forwards(forwards, seq_);
  try {
    send(b);
  } catch (const NftError& e) {
    if (e.err != EEXIST) throw;
    // Find which port, and whose, for a message the user can act on.
    const auto existing = list_forwards();
    std::set<std::string> stale_owners;
    for (const auto& f : forwards)
      for (const auto& x : existing)
        if (x.proto == f.proto && x.host_port == f.host_port && x.host_ip == f.host_ip) {
          if (!x.owner.empty() && x.owner == f.owner) {
            stale_owners.insert(x.owner);
            continue;
          }
          throw PortInUseError("host port " + (f.host_ip ? f.host_ip->str() + ":" : std::string()) +
                               std::to_string(f.host_port) + "/" + f.proto + " is already published by container " +
                               x.owner.substr(0, 12));
        }
    if (stale_owners.empty()) throw PortInUseError(std::string("a host port is already published: ") + e.what());
    // Only the owner's own elements clash: a run of it killed before its
    // undo left them. They are replaced, not a reason to fail.
    for (const auto& o : stale_owners) remove_forwards_of(o);
    auto again = build_add_forwards(forwards, seq_);
    send(again);
  }
}

size_t NftFirewall::remove_forwards_of(const std::string& owner) {
  std::vector<Forward> mine;
  for (const auto& f : list_forwards())
    if (f.owner == owner) mine.push_back(f);
  if (mine.empty()) return 0;
  auto b = build_delete_forwards(mine, seq_);
  send(b);
  return mine.size();
}

std::vector<Forward> NftFirewall::list_forwards() {
  auto out = dump_map(kDnatAnyMap);
  for (auto& f : dump_map(kDnatIpMap)) out.push_back(std::move(f));
  return out;
}

}  // namespace nrun::net
