// `nrun exec`: a new process inside a running container, in all of its
// namespaces and its cgroup, with the container's security settings.
#pragma once
#include <string>
#include <vector>

#include "runtime/state.hpp"

namespace nrun::runtime {

struct ExecSpec {
  std::vector<std::string> command;
  std::vector<std::string> env;  // KEY=VALUE, over the container's environment
  std::string workdir;           // empty: the container's
  std::string user;              // USER[:GROUP]; empty: the container's (root)
  bool tty = false;
  bool interactive = false;
  bool detach = false;
};

// Returns the command's exit code (0 at once with `detach`). Throws
// UsageError when the container is not running, LaunchError (126/127) when
// the command cannot be executed.
int exec_in_container(StateStore& store, const std::string& id, const ExecSpec& spec);

}  // namespace nrun::runtime
