// The sealed copy of the exec trampoline (src/trampoline): the program that
// every process nrun starts in a container execs last, so that the
// container's command is never exec'd by nrun's own image and can never
// reach the host's nrun binary through /proc/self/exe (see the trampoline's
// source for the attack). The trampoline is a few hundred bytes embedded in
// nrun; each nrun process copies it once into a memfd sealed against
// writes, resizes and exec-bit changes — not a copy of nrun per start.
#pragma once
#include <string>
#include <vector>

namespace nrun::runtime {

// Makes the sealed memfd (once per process; later calls return at once).
// Call it in the parent before cloning a process that will exec a command:
// a child must not make it (a CLONE_VM child would record an fd that only
// it has). Throws sys::SysError.
void prepare_exec_trampoline();

// In the child, as its last step: execs `path` (already searched for)
// with `argv` and `envp` through the trampoline, which reports a failed
// execve of `path` on `sync_fd` (and exits 126/127). Returns only when the
// trampoline itself cannot be exec'd, with errno set. Throws only
// std::bad_alloc.
void exec_through_trampoline(int sync_fd, const std::string& path, const std::vector<char*>& argv,
                             const std::vector<char*>& envp);

}  // namespace nrun::runtime
