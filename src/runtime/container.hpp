// Container lifecycle policy: start (attached or with a detached monitor),
// stop, kill, remove. The CLI calls these; they throw on failure.
#pragma once
#include <string>

#include "runtime/image_store.hpp"
#include "runtime/state.hpp"

namespace nrun::runtime {

struct Stores {
  StateStore& containers;
  ImageStore& images;
};

// Runs the container with the calling process as its monitor, relaying the
// terminal or passing stdio on. Returns the container's exit code. With
// `remove_on_failure`, a launch failure also removes the record (nrun run).
int run_attached(Stores s, const std::string& id, bool remove_on_failure);

// Forks a monitor that outlives the caller (setsid) and returns once the
// container runs; its output goes to the container's log.
void start_detached(Stores s, const std::string& id, bool remove_on_failure);

// SIGTERM (or the given signal), then SIGKILL after `timeout_secs`; returns
// once the monitor has recorded the exit.
void stop_container(StateStore& store, const std::string& id, int timeout_secs);
void kill_container(StateStore& store, const std::string& id, int sig);
// Refuses a running container unless `force` (then kills it first).
void remove_container(StateStore& store, const std::string& id, bool force);
// The same, for a container that may be removed by someone else meanwhile
// (its own monitor after --rm, another rm, prune or gc): false when its
// record went before this call could remove it, which is no error.
bool remove_container_if_exists(StateStore& store, const std::string& id, bool force);

// Undoes what containers whose process is gone still hold — their monitor
// was killed, or the host rebooted — and records them as exited. Returns
// their ids. Idempotent, like every teardown.
std::vector<std::string> collect_garbage(StateStore& store);

// The first command after a reboot collects the previous boot's containers:
// ROOT/boot_id remembers the boot the store last saw.
void collect_after_reboot(StateStore& store);

// nrun commit (container_commit.cpp): a new image `name` of the container's
// image plus a copy of what the container changed. With `pause`, a running
// container is frozen for the copy and thawed after, whatever happens.
ImageInfo commit_container(Stores s, const std::string& id, const std::string& name, bool pause);

// Signal names (KILL, SIGKILL, 9) to numbers; throws UsageError.
int parse_signal(const std::string& s);

}  // namespace nrun::runtime
