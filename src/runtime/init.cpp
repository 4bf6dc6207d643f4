// The only code that runs in the container's init between clone and
// execve. It never returns into the monitor's frames: every path ends in
// execve or _exit, and failures travel back on the sync socket.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "net/loopback.hpp"
#include "runtime/devices.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/spawn.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {
namespace {
using sys::check;

void init_container(const InitArgs& a, bool born_in_cgroup, SyncSocket& sync) {
  // Until execve, nothing in the container (an exec'd process, a container
  // sharing our pid namespace) may ptrace us or open our /proc files.
  check(::prctl(PR_SET_DUMPABLE, 0), "set non-dumpable");
  if (a.die_with_monitor) check(::prctl(PR_SET_PDEATHSIG, SIGKILL), "set parent death signal");
  // Join our cgroup ourselves (unless born in it), while the monitor builds
  // the network.
  if (!born_in_cgroup) join_cgroup_self(a.cgroup);
  // Only the default device nodes, in that cgroup (exec'd processes join it).
  if (!a.security.devices.empty()) restrict_devices(a.cgroup.dirs, a.security.devices);
  // Wait until the monitor has built our network.
  auto go = sync.receive();
  if (!go || go->type != SyncType::go) ::_exit(125);  // the monitor gave up on us
  for (const auto& [fd, nstype] : a.join)
    check(::setns(fd, nstype), "join namespace of another container");
  // A cgroup namespace made after joining the cgroup shows it as "/".
  check(::unshare(CLONE_NEWCGROUP), "unshare cgroup namespace");
  if (a.new_net) net::bring_up_loopback();
  apply_before_pivot(a.rootfs);
  sys::Fd pty_slave;
  if (a.tty) pty_slave = open_pty(a.rootfs.rootfs + "/dev/pts/ptmx", a.window, sync);
  pivot_into(a.rootfs.rootfs);
  apply_after_pivot(a.rootfs);
  if (a.new_uts) check(::sethostname(a.hostname.data(), a.hostname.size()), "sethostname");
  set_session_and_stdio(pty_slave, a.stdin_fd, a.stdout_fd, a.stderr_fd);
}
}  // namespace

[[noreturn]] void init_main(const InitArgs& args, bool born_in_cgroup, SyncSocket& sync) noexcept {
  try {
    init_container(args, born_in_cgroup, sync);
    // The user is looked up in the image's /etc/passwd, now our root's.
    finish_and_exec(make_process_setup(args.argv, args.env, args.rootfs.workdir, args.security), sync);
  } catch (const std::system_error& e) {
    sync.send_error(e.code().value(), 125, e.what());
  } catch (const std::exception& e) {
    sync.send_error(0, 125, e.what());
  } catch (...) {
    sync.send_error(0, 125, "container init failed");
  }
  ::_exit(125);
}

}  // namespace nrun::runtime
