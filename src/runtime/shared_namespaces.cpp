#include "runtime/shared_namespaces.hpp"

#include <sched.h>

#include <system_error>

#include "runtime/namespaces.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
namespace {
constexpr const char* kNetSharersDir = "net-sharers";

// ROOT/containers/<owner>/net-sharers/<rec.id>, or empty when `rec` does
// not join another container's network namespace.
fs::path net_sharer_marker(const StateStore& store, const ContainerRecord& rec) {
  const std::string owner = shared_container_of(rec.config.net);
  if (owner.empty()) return {};
  return store.dir(owner) / kNetSharersDir / rec.id;
}

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

void record_net_sharer(const StateStore& store, const ContainerRecord& rec) {
  const fs::path marker = net_sharer_marker(store, rec);
  if (marker.empty()) return;
  std::error_code ec;
  // No owner directory: no such container, which opening its namespace
  // reports in the user's terms.
  if (!fs::is_directory(marker.parent_path().parent_path(), ec)) return;
  fs::create_directories(marker.parent_path());
  sys::open_path(marker.string(), O_WRONLY | O_CREAT | O_NOFOLLOW, 0644);
}

void forget_net_sharer(const StateStore& store, const ContainerRecord& rec) noexcept {
  fs::path marker;
  try {
    marker = net_sharer_marker(store, rec);
  } catch (const std::exception&) {
    return;
  }
  if (marker.empty()) return;
  std::error_code ec;
  fs::remove(marker, ec);  // gone already (or the owner removed): fine
  if (ec && ec != std::errc::no_such_file_or_directory)
    log::warn("remove '" + marker.string() + "': " + ec.message() + ", ignoring");
}

bool net_namespace_may_be_shared(const StateStore& store, const std::string& id) {
  std::error_code ec;
  fs::directory_iterator it(store.dir(id) / kNetSharersDir, ec);
  return !ec && it != fs::directory_iterator();
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
