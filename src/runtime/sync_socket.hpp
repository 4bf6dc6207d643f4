// The launch's message channel between the monitor and the container's
// init: a SOCK_SEQPACKET socketpair, one fixed-size message per datagram,
// optionally carrying one fd (SCM_RIGHTS). Init's end is O_CLOEXEC, so a
// successful execve closes it: EOF on the monitor's end means "running".
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "runtime/sys/fd.hpp"
#include "trampoline/sync_wire.h"

namespace nrun::runtime {

enum class SyncType : uint32_t {
  go = 1,        // monitor -> init: cgroup and network are ready, continue
  pty = 2,       // init -> monitor: carries the pty master
  error = 3,     // init -> monitor: set-up or execve failed
  // exec trampoline -> monitor: the command's execve failed; text is the
  // path. receive() hands it on as an `error` with the errno's text.
  exec_failed = NRUN_SYNC_EXEC_FAILED,
  // exec trampoline -> monitor: the command's execve comes next.
  executing = NRUN_SYNC_EXECUTING,
};

struct SyncMessage {
  SyncType type = SyncType::go;
  int32_t err = 0;        // errno, for error
  int32_t exit_code = 0;  // 125, 126 or 127, for error
  char text[1024] = {};
  std::string message() const { return std::string(text, strnlen(text, sizeof text)); }
};
// The trampoline (C, no libc) writes this layout as nrun_sync_wire.
static_assert(sizeof(SyncMessage) == sizeof(nrun_sync_wire));
static_assert(offsetof(SyncMessage, err) == offsetof(nrun_sync_wire, err));
static_assert(offsetof(SyncMessage, exit_code) == offsetof(nrun_sync_wire, exit_code));
static_assert(offsetof(SyncMessage, text) == offsetof(nrun_sync_wire, text));

class SyncSocket {
 public:
  SyncSocket() = default;
  explicit SyncSocket(sys::Fd fd) : fd_(std::move(fd)) {}

  void send(SyncType type, int fd_to_pass = -1);
  void send_message(const SyncMessage& m, int fd_to_pass = -1);
  void send_error(int err, int exit_code, const std::string& text) noexcept;
  // Blocks for the next message; nullopt on EOF (the peer closed or exec'd).
  // A passed fd is stored in *received when given.
  std::optional<SyncMessage> receive(sys::Fd* received = nullptr);

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  sys::Fd fd_;
};

std::pair<SyncSocket, SyncSocket> make_sync_pair();

// The launching side's end of a start: reads messages until the peer's
// command runs (EOF after `executing`). A pty master the peer sends goes to
// *pty_master. Throws LaunchError (126/127) or sys::Error for a failure the
// peer reports, and sys::Error when the peer died before its execve
// (killed during set-up). `what` names the process in that error.
void await_exec(SyncSocket& sync, sys::Fd* pty_master, const std::string& what);

}  // namespace nrun::runtime
