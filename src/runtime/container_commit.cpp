// nrun commit: the container's changes as a new image. Two defences keep
// the container from slipping host files into the image: the copy reads
// the upper directory with copy_container_tree (never through a symlink
// out of it), and, as Docker does by default, a running container is
// frozen while it is copied, so that it cannot change what is being read.
#include <optional>

#include "runtime/cgroup.hpp"
#include "runtime/container.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::runtime {

ImageInfo commit_container(Stores s, const std::string& id, const std::string& name, bool pause) {
  const ContainerRecord rec = s.containers.load(id);
  const ImageInfo base = s.images.get(rec.config.image);
  return s.images.commit(base, s.containers.dir(id) / "upper", name, [&](const std::function<void()>& copy) {
    // Read again now that the commit is under way: the container may have
    // started or stopped meanwhile. One that is not running changes nothing.
    const ContainerRecord now = s.containers.load(id);
    if (!pause || !is_alive(now.state)) {
      copy();
      return;
    }
    const auto cg = cgroup_from_json(now.state.cgroup);
    std::optional<ScopedFreeze> frozen;
    try {
      if (!cg) throw sys::Error("the container has no cgroup on this host");
      frozen.emplace(*cg);
    } catch (...) {
      std::throw_with_nested(sys::Error("pause container '" + rec.config.name +
                                        "' for the commit (--pause=false commits it running)"));
    }
    log::debug("container " + rec.short_id() + " paused for the commit");
    copy();
  });
}

}  // namespace nrun::runtime
