// The kernel half of netem.hpp: root netem qdisc, tbf under it for a rate.
#include "net/netem.hpp"

#include <linux/pkt_sched.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <algorithm>

#include "net/netlink.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::net {

namespace {
using Qdisc = std::unique_ptr<rtnl_qdisc, CFree<rtnl_qdisc_put>>;

constexpr uint32_t kNetemHandle = 0x10000;  // 1:
constexpr uint32_t kNetemClass = 0x10001;   // 1:1, where netem's one child goes
constexpr uint32_t kTbfHandle = 0xa0000;    // 10:
// How long a packet may wait in tbf before it is dropped: what a router's
// buffer would hold, and enough for ping under a limited rate.
constexpr int kTbfLatencyUs = 100 * 1000;

int ifindex_of(nl_sock* sock, const std::string& ifname) {
  rtnl_link* raw = nullptr;
  nl_check(rtnl_link_get_kernel(sock, 0, ifname.c_str(), &raw), "look up link '" + ifname + "'");
  if (!raw) throw sys::Error("look up link '" + ifname + "': the kernel's answer held no link");
  const Link link(raw);
  return rtnl_link_get_ifindex(link.get());
}

Qdisc alloc_qdisc(int ifindex, uint32_t parent, uint32_t handle, const char* kind) {
  Qdisc q(rtnl_qdisc_alloc());
  if (!q) throw sys::Error("allocate qdisc: out of memory");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), parent);
  rtnl_tc_set_handle(TC_CAST(q.get()), handle);
  nl_check(rtnl_tc_set_kind(TC_CAST(q.get()), kind), std::string("qdisc kind ") + kind);
  return q;
}

void add_qdisc(nl_sock* sock, rtnl_qdisc* q, const char* kind, const std::string& what) {
  const int rc = rtnl_qdisc_add(sock, q, NLM_F_CREATE | NLM_F_EXCL);
  // The kernel says ENOENT for a qdisc kind it does not know.
  if (rc == -NLE_OBJ_NOTFOUND)
    throw NetlinkError(-rc, what + " (this kernel has no '" + kind + "' qdisc: it needs sch_" + kind +
                                ", CONFIG_NET_SCH_" + (std::string(kind) == "netem" ? "NETEM" : "TBF") + ")");
  nl_check(rc, what);
}

// tbf at `parent`: under netem (1:1), or alone at the root.
void add_tbf(nl_sock* sock, int ifindex, const std::string& ifname, uint32_t parent, uint64_t rate_bps) {
  Qdisc tbf = alloc_qdisc(ifindex, parent, parent == TC_H_ROOT ? kNetemHandle : kTbfHandle, "tbf");
  const int bytes_per_sec = static_cast<int>(rate_bps / 8);
  // tbf needs a bucket of at least one full frame, and one of about 10 ms
  // of traffic so a fast link is not limited by timer granularity.
  const int bucket = std::max(bytes_per_sec / 100, 2 * 1514);
  rtnl_qdisc_tbf_set_rate(tbf.get(), bytes_per_sec, bucket, 0);
  nl_check(rtnl_qdisc_tbf_set_limit_by_latency(tbf.get(), kTbfLatencyUs), "tbf limit");
  log::debug("tc: tbf rate " + format_rate(rate_bps) + " on '" + ifname + "'");
  add_qdisc(sock, tbf.get(), "tbf", "add tbf (rate " + format_rate(rate_bps) + ") to '" + ifname + "'");
}

bool clear_root(nl_sock* sock, int ifindex, const std::string& ifname) {
  Qdisc q(rtnl_qdisc_alloc());
  if (!q) throw sys::Error("allocate qdisc: out of memory");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_ROOT);
  log::debug("tc: delete the root qdisc of '" + ifname + "'");
  const int rc = rtnl_qdisc_delete(sock, q.get());
  // The kernel says ENOENT ("handle of zero") for the default qdisc: there
  // is nothing of ours to remove.
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NOADDR) return false;
  nl_check(rc, "delete the root qdisc of '" + ifname + "'");
  return true;
}
}  // namespace

bool clear_qdisc_if_exists(nl_sock* sock, const std::string& ifname) {
  return clear_root(sock, ifindex_of(sock, ifname), ifname);
}

void set_netem(nl_sock* sock, const std::string& ifname, const NetemSpec& spec) {
  validate_netem(spec, "netem on '" + ifname + "'");
  const int ifindex = ifindex_of(sock, ifname);
  // A qdisc of another kind cannot be changed into netem in place, and a
  // tbf child must go when the rate does: start from the default each time.
  clear_root(sock, ifindex, ifname);
  if (spec.empty()) return;

  // A rate alone needs no netem: tbf at the root works on kernels built
  // without sch_netem too.
  NetemSpec rest = spec;
  rest.rate_bps = 0;
  if (rest.empty()) {
    add_tbf(sock, ifindex, ifname, TC_H_ROOT, spec.rate_bps);
    return;
  }

  Qdisc netem = alloc_qdisc(ifindex, TC_H_ROOT, kNetemHandle, "netem");
  if (spec.delay_us) rtnl_netem_set_delay(netem.get(), static_cast<int>(spec.delay_us));
  if (spec.jitter_us) rtnl_netem_set_jitter(netem.get(), static_cast<int>(spec.jitter_us));
  // libnl takes the kernel's 32-bit probabilities through an int: the bits
  // are what matters.
  if (spec.loss > 0) rtnl_netem_set_loss(netem.get(), static_cast<int>(percent_to_probability(spec.loss)));
  if (spec.duplicate > 0)
    rtnl_netem_set_duplicate(netem.get(), static_cast<int>(percent_to_probability(spec.duplicate)));
  if (spec.reorder > 0)
    rtnl_netem_set_reorder_probability(netem.get(), static_cast<int>(percent_to_probability(spec.reorder)));
  if (spec.corrupt > 0)
    rtnl_netem_set_corruption_probability(netem.get(), static_cast<int>(percent_to_probability(spec.corrupt)));
  if (spec.limit) rtnl_netem_set_limit(netem.get(), static_cast<int>(spec.limit));
  log::debug("tc: netem " + spec.str() + " on '" + ifname + "'");
  add_qdisc(sock, netem.get(), "netem", "add netem to '" + ifname + "'");

  if (!spec.rate_bps) return;
  sys::ScopeGuard undo([&] { clear_root(sock, ifindex, ifname); });  // all of the spec or none of it
  add_tbf(sock, ifindex, ifname, kNetemClass, spec.rate_bps);
  undo.dismiss();
}

}  // namespace nrun::net
