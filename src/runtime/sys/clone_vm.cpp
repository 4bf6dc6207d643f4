#include "runtime/sys/clone_vm.hpp"

#include <sys/syscall.h>

#include <cerrno>

#if defined(__x86_64__)
// long nrun_clone3_raw(clone_args* args, size_t size, int (*fn)(void*), void* arg)
// returns the pid or -errno. r8 and r9 survive the syscall (it clobbers only
// rax, rcx and r11) and are copied into the child with every other register;
// the child starts on args->stack with %rsp at its 16-byte aligned top.
asm(R"(
  .text
  .globl nrun_clone3_raw
  .hidden nrun_clone3_raw
  .type nrun_clone3_raw, @function
nrun_clone3_raw:
  .cfi_startproc
  mov %rdx, %r8
  mov %rcx, %r9
  mov $)" "435" R"(, %eax
  syscall
  test %rax, %rax
  jnz 1f
  .cfi_undefined rip
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $)" "60" R"(, %eax
  syscall
  hlt
1:
  ret
  .cfi_endproc
  .size nrun_clone3_raw, .-nrun_clone3_raw
)");
extern "C" long nrun_clone3_raw(clone_args* args, unsigned long size, int (*fn)(void*), void* arg);
static_assert(SYS_clone3 == 435 && SYS_exit == 60, "x86-64 syscall numbers in the assembly above");
#endif

namespace nrun::sys {

long clone3_run(clone_args* args, int (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  const long rc = nrun_clone3_raw(args, sizeof(*args), fn, arg);
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return rc;
#else
  (void)args, (void)fn, (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace nrun::sys
