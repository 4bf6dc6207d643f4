/* The sync socket's message as bytes on the wire, shared by nrun (C++,
 * runtime/sync_socket.hpp, which static_asserts its SyncMessage against
 * it) and the exec trampoline (C, no libc). */
#ifndef NRUN_SYNC_WIRE_H
#define NRUN_SYNC_WIRE_H

/* The type of a message the trampoline sends when the command's execve
 * fails: text is the path, err the errno; nrun turns it into an error. */
#define NRUN_SYNC_EXEC_FAILED 4

/* Sent by the trampoline just before the command's execve: EOF after it
 * means the command runs (or ran); EOF without it means the process died
 * during set-up. */
#define NRUN_SYNC_EXECUTING 5

struct nrun_sync_wire {
  unsigned int type;
  int err;
  int exit_code;
  char text[1024];
};

#endif
