// clone3 for a child that shares the caller's memory and runs on a stack of
// its own (CLONE_VM, as posix_spawn does with clone). glibc 2.36 offers no
// clone3 wrapper that takes a function, and a raw clone3 syscall cannot
// start a child on a new stack from C++: after the syscall it would return
// into frames it does not have. So the syscall and the call of `fn` on the
// new stack are a few lines of assembly, as in glibc's own clone3.S.
#pragma once
#include <linux/sched.h>

namespace nrun::sys {

// Runs fn(arg) in the child on args->stack, then exits with its result.
// Returns the child's pid in the caller, or -1 with errno set (ENOSYS also
// where nrun has no assembly for the architecture: use ::clone there).
long clone3_run(clone_args* args, int (*fn)(void*), void* arg);

}  // namespace nrun::sys
