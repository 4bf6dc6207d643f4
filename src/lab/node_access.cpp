#include "lab/node_access.hpp"

#include "net/netlink.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::lab {

std::optional<std::string> find_container(const runtime::StateStore& store, const std::string& name) {
  // Names only: StateStore::resolve also takes id prefixes, and a lab must
  // never act on a container that merely has a matching id.
  return store.try_find_by_name(name);
}

RunningNode running_node(const runtime::StateStore& store, const std::string& container) {
  const auto id = find_container(store, container);
  if (!id) throw sys::Error("container '" + container + "' does not exist");
  return running_node_by_id(store, *id, container);
}

RunningNode running_node_by_id(const runtime::StateStore& store, const std::string& id, const std::string& container) {
  const runtime::ContainerRecord rec = store.load(id);
  if (!runtime::is_alive(rec.state)) {
    std::string why = "container '" + container + "' is not running";
    if (!rec.state.error.empty()) why += " (" + rec.state.error + ")";
    throw sys::Error(why);
  }
  RunningNode n{id, rec.state.pid, net::open_netns_of(rec.state.pid)};
  // Checked after opening: the fd cannot name a reused pid's namespace.
  if (!sys::process_matches(rec.state.pid, rec.state.start_time))
    throw sys::Error("container '" + container + "' is not running");
  return n;
}

}  // namespace nrun::lab
