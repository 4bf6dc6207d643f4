// Reaching a lab node's container: by its name in the container store, and
// into its network namespace, checked against its init's start time so a
// reused pid is never trusted.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "runtime/state.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::lab {

// The id of the container named `name`, if there is one.
std::optional<std::string> find_container(const runtime::StateStore& store, const std::string& name);

struct RunningNode {
  std::string id;
  pid_t pid = 0;
  sys::Fd netns;  // /proc/<pid>/ns/net, opened before the pid was checked
};

// Throws sys::Error when the container is missing or not running.
RunningNode running_node(const runtime::StateStore& store, const std::string& container);
// The same for a container whose id is known (`container` names it in
// messages).
RunningNode running_node_by_id(const runtime::StateStore& store, const std::string& id, const std::string& container);

}  // namespace nrun::lab
