#include "runtime/exec.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "runtime/cgroup.hpp"
#include "runtime/exec_trampoline.hpp"
#include "runtime/launch_error.hpp"
#include "runtime/monitor.hpp"
#include "runtime/namespaces.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/security.hpp"
#include "runtime/spawn.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"
#include "runtime/user.hpp"

namespace nrun::runtime {
namespace {
using sys::check;

struct ExecArgs {
  std::vector<std::string> argv, env;
  std::string workdir;
  ProcessSecurity security;  // the container's, as its init got them
  CgroupEntry cgroup;        // the container's cgroup
  std::string user;  // exec -u; resolved inside the container, against its /etc/passwd
  bool tty = false;
  winsize window{};
  int in = 0, out = 1, err = 2;
};

// The process that execs. Born in the container's pid namespace (and, on
// cgroup v2, in its cgroup); joins the rest itself, so that nrun, which
// supervises it, never enters the container's mount namespace and never
// reads a file of the (untrusted) image.
[[noreturn]] void exec_child(const ExecArgs& a, const NamespaceHandles& ns, bool born_in_cgroup,
                             SyncSocket& sync) noexcept {
  try {
    // Until execve, nothing in the container may ptrace or read us.
    check(::prctl(PR_SET_DUMPABLE, 0), "set non-dumpable");
    // Through the host's cgroupfs, so before the mount namespace.
    if (!born_in_cgroup) join_cgroup_self(a.cgroup);
    join_namespaces(ns, namespaces_but_pid());
    sys::Fd pty_slave;
    if (a.tty) pty_slave = open_pty("/dev/pts/ptmx", a.window, sync);
    set_session_and_stdio(pty_slave, a.in, a.out, a.err);
    finish_and_exec(make_process_setup(a.argv, a.env, a.workdir, a.security, a.user), sync);
  } catch (const std::system_error& e) {
    sync.send_error(e.code().value(), 125, e.what());
  } catch (const std::exception& e) {
    sync.send_error(0, 125, e.what());
  } catch (...) {
    sync.send_error(0, 125, "exec in the container failed");
  }
  ::_exit(125);
}
}  // namespace

int exec_in_container(StateStore& store, const std::string& id, const ExecSpec& spec) {
  const ContainerRecord rec = store.load(id);
  if (spec.command.empty() || spec.command[0].empty()) throw sys::UsageError("no command given");
  validate_user_spec(spec.user);
  NamespaceHandles ns = open_namespaces(rec.state, rec.config.name);

  ExecArgs a;
  ContainerSpec env_spec = rec.config;
  for (const auto& e : spec.env) env_spec.env.push_back(parse_env_entry(e));
  env_spec.tty = spec.tty;
  a.argv = spec.command;
  a.env = effective_env(env_spec);
  validate_exec_size(a.argv, a.env);
  a.workdir = normalize_container_path(spec.workdir.empty() ? rec.config.workdir : spec.workdir);
  a.security = process_security(rec.config, store.root() / "cache");
  a.user = spec.user;
  a.cgroup = container_cgroup_entry(rec.state);
  a.tty = spec.tty;
  a.window = caller_window_size();
  sys::Fd devnull;
  if (!spec.interactive || spec.detach) {
    devnull = sys::open_path("/dev/null", O_RDWR);
    a.in = devnull.get();
    if (spec.detach) a.out = a.err = devnull.get();
  }

  std::optional<ForwardedSignals> signals;
  if (!spec.detach) signals.emplace();  // before fork, so no signal slips past
  auto [ours, theirs] = make_sync_pair();
  // Our children are born in the container's pid namespace (we are not
  // moved), so the exec'd process is nrun's own child, waitable, with no
  // intermediate process (one fork, as nsenter).
  join_pid_namespace_for_children(ns);
  std::fflush(nullptr);
  prepare_exec_trampoline();
  const sys::Fd cgroup_fd = open_clone_into(a.cgroup);
  bool into_cgroup = false;
  sys::Fd pidfd;
  const pid_t pid = spawn_sharing_memory(
      [&] {
        ::close(ours.fd());  // ours, not the child's: its fd only, the object is shared
        exec_child(a, ns, into_cgroup, theirs);
      },
      cgroup_fd.get(), &into_cgroup, &pidfd, "clone exec process");
  theirs.close();
  ChildPid child(pid, std::move(pidfd));
  sys::Fd pty_master;
  try {
    await_exec(ours, &pty_master, "the exec'd process");
  } catch (const LaunchError&) {
    throw;
  } catch (const std::exception& e) {
    throw sys::Error("exec in container '" + rec.config.name + "': " + sys::describe(e));
  }
  log::debug("exec'd pid " + std::to_string(child.pid()) + " in container " + rec.short_id());
  if (spec.detach) {
    child.release();  // runs on; reparented when we exit
    return 0;
  }
  int status;
  {
    std::optional<RawTerminal> raw;
    if (spec.tty && spec.interactive) raw.emplace(STDIN_FILENO);
    status = supervise_attached(child, pty_master, *signals, spec.interactive);
  }
  return exit_code_from_status(status);
}

}  // namespace nrun::runtime
