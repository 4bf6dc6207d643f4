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

}  // namespace nrun::runtime
