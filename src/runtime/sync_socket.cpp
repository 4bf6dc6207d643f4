#include "runtime/sync_socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::runtime {

std::pair<SyncSocket, SyncSocket> make_sync_pair() {
  int fds[2];
  sys::check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair");
  return {SyncSocket(sys::Fd(fds[0])), SyncSocket(sys::Fd(fds[1]))};
}

static void send_datagram(int sock, const SyncMessage& m, int fd_to_pass) {
  iovec iov{const_cast<SyncMessage*>(&m), sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    throw sys::SysError(e, "sync socket send");
  }
}

void SyncSocket::send_message(const SyncMessage& m, int fd_to_pass) { send_datagram(fd_.get(), m, fd_to_pass); }

void SyncSocket::send(SyncType type, int fd_to_pass) {
  SyncMessage m;
  m.type = type;
  send_datagram(fd_.get(), m, fd_to_pass);
}

void SyncSocket::send_error(int err, int exit_code, const std::string& text) noexcept {
  SyncMessage m;
  m.type = SyncType::error;
  m.err = err;
  m.exit_code = exit_code;
  std::strncpy(m.text, text.c_str(), sizeof m.text - 1);
  try {
    send_datagram(fd_.get(), m, -1);
  } catch (...) {
    // The monitor is gone; nobody is left to tell.
  }
}

std::optional<SyncMessage> SyncSocket::receive(sys::Fd* received) {
  SyncMessage m;
  iovec iov{&m, sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    throw sys::SysError(e, "sync socket receive");
  }
  if (n == 0) return std::nullopt;
  if (static_cast<size_t>(n) != sizeof m) throw sys::Error("sync socket: short message");
  if (m.type == SyncType::exec_failed) {
    const std::string text = "exec '" + m.message() + "': " + std::strerror(m.err);
    m.type = SyncType::error;
    std::memset(m.text, 0, sizeof m.text);
    std::strncpy(m.text, text.c_str(), sizeof m.text - 1);
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      if (received) received->reset(fd);
      else ::close(fd);
    }
  }
  return m;
}

void await_exec(SyncSocket& sync, sys::Fd* pty_master, const std::string& what) {
  bool executing = false;
  while (auto msg = sync.receive(pty_master)) {
    if (msg->type == SyncType::executing) executing = true;
    if (msg->type != SyncType::error) continue;
    if (msg->exit_code == 126 || msg->exit_code == 127) throw LaunchError(msg->exit_code, msg->message());
    throw sys::Error(msg->message());
  }
  if (!executing) throw sys::Error(what + " died during set-up, before it could exec the command");
}

}  // namespace nrun::runtime
