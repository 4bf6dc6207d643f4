// Making a socket inside another network namespace while this process never
// leaves its own.
//
// setns(CLONE_NEWNET) moves only the calling thread. Switching into a
// namespace and back (netavark's way) needs a second setns, and when that one
// fails the process is in the wrong namespace with no safe way on: it could
// only abort. Here a short-lived child that shares our memory and file table
// (CLONE_VM | CLONE_FILES | CLONE_VFORK, as posix_spawn) joins the namespace
// and makes the socket, which lands in our fd table; the child's namespace
// goes with it. Being a process, not a thread, it never makes us
// multi-threaded (sys::assert_single_threaded stays true throughout).
#pragma once
#include "runtime/sys/fd.hpp"

namespace nrun::net {

// socket(domain, type | SOCK_CLOEXEC, protocol) made in the network
// namespace `netns` (an fd of /proc/PID/ns/net or a /run/netns file).
sys::Fd open_socket_in(const sys::Fd& netns, int domain, int type, int protocol);

}  // namespace nrun::net
