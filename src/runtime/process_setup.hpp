// The last steps of every process nrun starts inside a container — the
// container's init and each `nrun exec` — between joining the namespaces
// and execve. Shared so both get the same security settings.
#pragma once
#include <sys/ioctl.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "runtime/seccomp.hpp"
#include "runtime/security.hpp"
#include "runtime/sync_socket.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/user.hpp"

namespace nrun::runtime {

struct ProcessSetup {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string workdir = "/";
  uint64_t capabilities = 0;
  bool no_new_privileges = true;
  SeccompProgram seccomp;       // empty: none
  std::optional<UserIds> user;  // switch to this user
};

// Inside the container (after pivot_root or setns): the process settings
// of `security`, with the user (`user`, else the container's) resolved
// against the container's /etc/passwd and /etc/group.
ProcessSetup make_process_setup(std::vector<std::string> argv, std::vector<std::string> env, std::string workdir,
                                const ProcessSecurity& security, const std::string& user = "");

// Opens a pty from `ptmx` (the container's own devpts instance, so `tty`
// names a path that exists inside) with the caller's window size set before
// the command can ask for it, sends the master to the monitor and returns
// the slave.
sys::Fd open_pty(const std::string& ptmx, const winsize& size, SyncSocket& sync);

// The window size of nrun's own terminal (stdin), or 24x80 without one.
winsize caller_window_size();

// Makes the process a session leader; with a pty slave, also its
// controlling terminal and stdio. Otherwise stdio becomes in/out/err.
void set_session_and_stdio(const sys::Fd& pty_slave, int in, int out, int err);

// chdir (resolved inside the root, and checked to be inside it after),
// signal mask and dispositions reset, bounding set, user, capabilities,
// no_new_privs, every fd but stdio closed at execve, the seccomp filter last
// (or before the user switch without no_new_privs, while CAP_SYS_ADMIN is
// still held), then execve with a PATH search in the container's
// environment. Failures go to `sync` as 126/127/125 and end the process;
// success closes `sync` (it is O_CLOEXEC).
[[noreturn]] void finish_and_exec(const ProcessSetup& p, SyncSocket& sync);

}  // namespace nrun::runtime
