#include "runtime/host_resources.hpp"

#include "runtime/cgroup.hpp"
#include "runtime/networking.hpp"
#include "runtime/shared_namespaces.hpp"

namespace nrun::runtime {

CgroupEntry prepare_host_resources(StateStore&, const ContainerRecord& rec, ContainerState& state) {
  return cgroups_prepare(rec, state);
}

void setup_host_resources(StateStore& store, const ContainerRecord& rec, pid_t init_pid, ContainerState& state) {
  attach_networks(store, rec, init_pid, state);
}

void teardown_host_resources(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept {
  detach_networks(store, rec, state);
  forget_net_sharer(store, rec);
  cgroups_teardown(rec, state);
}

bool holds_host_resources(const ContainerRecord& rec, const ContainerState& state) {
  // A null network record of a container on networks: teardown could not
  // confirm anything is gone (it clears a record it undid to {}).
  const bool network = network_record_holds(state.network) || (state.network.is_null() && uses_networks(rec.config));
  return !state.cgroup.is_null() || network;
}

void collect_exit_facts(StateStore&, const ContainerRecord&, ContainerState& state) noexcept {
  cgroups_collect_exit_facts(state);
}

}  // namespace nrun::runtime
