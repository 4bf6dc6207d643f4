#include "runtime/host_resources.hpp"

namespace nrun::runtime {

void setup_host_resources(StateStore&, const ContainerRecord&, pid_t, ContainerState&) {}

void teardown_host_resources(StateStore&, const ContainerRecord&, ContainerState&) noexcept {}

void join_container_cgroups(const ContainerState&, pid_t) {}

void collect_exit_facts(StateStore&, const ContainerRecord&, ContainerState&) noexcept {}

}  // namespace nrun::runtime
