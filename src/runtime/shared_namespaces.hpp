// Namespaces a new container shares instead of making its own:
// --net/--pid/--ipc container:NAME and host, --uts host.
#pragma once
#include <string>
#include <vector>

#include "runtime/spawn.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

struct SharedNamespaces {
  std::vector<sys::Fd> held;  // namespace files init joins; open until it has
  sys::Fd pid_ns;             // entered by the monitor before clone: a pid
                              // namespace applies to the caller's children
};

// Sets args.new_* and args.join for the spec's modes, opening the other
// containers' namespace files (verified against their init's start time).
// Throws UsageError when such a container is not running.
SharedNamespaces plan_shared_namespaces(const StateStore& store, const ContainerSpec& spec, InitArgs& args);

// Running containers that share a namespace of container `id`, by name.
std::vector<std::string> containers_sharing(const StateStore& store, const std::string& id);

// --net container:A. A's network namespace outlives A's init while another
// container B is in it, and with it A's veth pairs and addresses, which A's
// teardown otherwise leaves to the namespace's death. So, as in Docker, A's
// network goes when A stops: its teardown deletes the pairs itself, then
// releases the leases, and B keeps only loopback. B says it is in A's
// namespace with a marker, ROOT/containers/<A>/net-sharers/<B>, made
// before B opens the namespace (so A, once its init is dead, cannot miss a
// B that got in) and removed by B's own teardown. A marker left by a B whose
// monitor was killed costs A one synchronous veth delete, nothing more.
void record_net_sharer(const StateStore& store, const ContainerRecord& rec);  // no-op unless --net container:
void forget_net_sharer(const StateStore& store, const ContainerRecord& rec) noexcept;
// True when some container has recorded that it is in `id`'s namespace.
bool net_namespace_may_be_shared(const StateStore& store, const std::string& id);

}  // namespace nrun::runtime
