#include "runtime/host_resources.hpp"

#include "runtime/cgroup.hpp"
#include "runtime/networking.hpp"
#include "runtime/shared_namespaces.hpp"

namespace nrun::runtime {

std::vector<std::string> prepare_host_resources(StateStore&, const ContainerRecord& rec, ContainerState& state) {
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

void join_container_cgroups(const ContainerState& state, pid_t pid) { join_container_cgroup(state, pid); }

void collect_exit_facts(StateStore&, const ContainerRecord&, ContainerState& state) noexcept {
  cgroups_collect_exit_facts(state);
}

}  // namespace nrun::runtime
