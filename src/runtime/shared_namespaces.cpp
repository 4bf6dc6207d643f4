#include "runtime/shared_namespaces.hpp"

#include <sched.h>

#include "runtime/namespaces.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::runtime {
namespace {
// Opens /proc/<init>/ns/<name> of the container named in `mode`.
sys::Fd open_shared(const StateStore& store, const std::string& mode, const char* ns) {
  const std::string ref = shared_container_of(mode);
  const ContainerRecord other = store.load(store.resolve(ref));
  sys::Fd pidfd = open_init_pidfd(other.state);  // pins the check below to a live process
  if (!pidfd) throw sys::UsageError("cannot share namespaces of container '" + other.config.name + "': it is not running");
  sys::Fd fd = sys::open_path("/proc/" + std::to_string(other.state.pid) + "/ns/" + ns, O_RDONLY);
  if (!sys::process_matches(other.state.pid, other.state.start_time))
    throw sys::UsageError("cannot share namespaces of container '" + other.config.name + "': it exited");
  return fd;
}
}  // namespace

SharedNamespaces plan_shared_namespaces(const StateStore& store, const ContainerSpec& spec, InitArgs& args) {
  SharedNamespaces out;
  auto join = [&](const std::string& mode, const char* ns, int type, bool& fresh) {
    if (mode.empty() || mode == "none" || mode == "private") return;
    fresh = false;
    if (mode == "host") return;  // stay in nrun's own
    if (shared_container_of(mode).empty()) return;  // a network name: the net module's
    sys::Fd fd = open_shared(store, mode, ns);
    if (type == CLONE_NEWPID) {
      out.pid_ns = std::move(fd);
    } else {
      args.join.emplace_back(fd.get(), type);
      out.held.push_back(std::move(fd));
    }
  };
  join(spec.net == "host" || !shared_container_of(spec.net).empty() ? spec.net : "", "net", CLONE_NEWNET,
       args.new_net);
  join(spec.ipc_mode, "ipc", CLONE_NEWIPC, args.new_ipc);
  join(spec.uts_mode, "uts", CLONE_NEWUTS, args.new_uts);
  join(spec.pid_mode, "pid", CLONE_NEWPID, args.new_pid);
  return out;
}

std::vector<std::string> containers_sharing(const StateStore& store, const std::string& id) {
  std::vector<std::string> names;
  for (const auto& r : store.list()) {
    if (r.id == id || !is_alive(r.state)) continue;
    for (const auto* mode : {&r.config.net, &r.config.pid_mode, &r.config.ipc_mode}) {
      const std::string ref = shared_container_of(*mode);
      if (!ref.empty() && ref == id) {
        names.push_back(r.config.name);
        break;
      }
    }
  }
  return names;
}

}  // namespace nrun::runtime
