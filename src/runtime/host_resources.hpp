// What a container holds outside its own namespaces — its cgroup, its
// network attachments — set up by the monitor while init waits on the sync
// socket, and undone after init exits (and again, harmlessly, by rm).
//
// Each module records what it made in ContainerState (its own JSON member),
// so teardown removes exactly that, even after the monitor was killed.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/state.hpp"

namespace nrun::runtime {

// Called before init is cloned: makes what needs no process (the cgroup
// with its limits). Returns the cgroup.procs files init joins itself
// through. Throws after undoing its own partial work; fills `state`.
std::vector<std::string> prepare_host_resources(StateStore& store, const ContainerRecord& rec,
                                                ContainerState& state);

// Called with init held before its rootfs is mounted. Throws on failure,
// after undoing its own partial work. Fills the module members of `state`.
void setup_host_resources(StateStore& store, const ContainerRecord& rec, pid_t init_pid, ContainerState& state);

// Idempotent and never throws: a second call, or a call for a record that
// holds nothing, is a no-op. Clears the module members it undid.
void teardown_host_resources(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept;

// Puts `pid` (an `nrun exec` process, before it joins the namespaces) into
// the container's cgroups.
void join_container_cgroups(const ContainerState& state, pid_t pid);

// Facts gathered when init has exited, before teardown (OOM kill).
void collect_exit_facts(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept;

}  // namespace nrun::runtime
