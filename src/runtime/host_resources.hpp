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

#include "runtime/cgroup_entry.hpp"
#include "runtime/state.hpp"

namespace nrun::runtime {

// Called before init is cloned: makes what needs no process (the cgroup
// with its limits). Returns how init enters that cgroup. Throws after
// undoing its own partial work; fills `state`.
CgroupEntry prepare_host_resources(StateStore& store, const ContainerRecord& rec,
                                                ContainerState& state);

// Called with init held before its rootfs is mounted. Throws on failure,
// after undoing its own partial work. Fills the module members of `state`.
void setup_host_resources(StateStore& store, const ContainerRecord& rec, pid_t init_pid, ContainerState& state);

// Idempotent and never throws: a second call, or a call for a record that
// holds nothing, is a no-op. Clears the module members it undid.
void teardown_host_resources(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept;


// True when teardown left something to undo (recorded in `state`), so the
// record must stay for `nrun rm` or `nrun gc` to try again.
bool holds_host_resources(const ContainerRecord& rec, const ContainerState& state);

// Facts gathered when init has exited, before teardown (OOM kill).
void collect_exit_facts(StateStore& store, const ContainerRecord& rec, ContainerState& state) noexcept;

}  // namespace nrun::runtime
