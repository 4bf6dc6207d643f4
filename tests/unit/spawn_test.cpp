// spawn_sharing_memory: the child runs on its own stack in our memory, we
// resume once it has exited (or execve()d), and its pidfd and status are
// ours.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "runtime/spawn.hpp"

using namespace nrun::runtime;

TEST(SpawnSharingMemory, ChildWritesOurMemoryAndWeResumeAfterItExits) {
  volatile int seen = 0;
  volatile pid_t child_pid = 0;
  bool into = true;
  nrun::sys::Fd pidfd;
  const pid_t pid = spawn_sharing_memory(
      [&] {
        seen = 42;  // our memory: CLONE_VM
        child_pid = ::getpid();
        ::_exit(7);
      },
      -1, &into, &pidfd, "spawn test child");
  // CLONE_VFORK: by now the child has exited, and what it wrote is here.
  EXPECT_EQ(seen, 42);
  EXPECT_EQ(child_pid, pid);
  EXPECT_FALSE(into) << "no cgroup fd, so not born in one";
  ASSERT_TRUE(pidfd);
  pollfd p{pidfd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 1) << "the pidfd reports the exit";
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(exit_code_from_status(status), 7);
}

TEST(SpawnSharingMemory, ChildThatReturnsExits125AndDeepRecursionFitsItsStack) {
  bool into = false;
  nrun::sys::Fd pidfd;
  const pid_t pid = spawn_sharing_memory(
      [] {
        // A few hundred KiB of frames: the exec path's user lookup and
        // exceptions need room, and the stack is 512 KiB.
        struct Deep {
          static int down(int n) {
            volatile char pad[1024];
            pad[0] = static_cast<char>(n);
            return n == 0 ? pad[0] : down(n - 1) + pad[0];
          }
        };
        (void)Deep::down(200);
        try {
          throw std::runtime_error("unwinds on the child's stack");
        } catch (const std::exception&) {
        }
      },
      -1, &into, &pidfd, "spawn test child");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(exit_code_from_status(status), 125) << "a child that returns must not run on in our frames";
}

TEST(SpawnSharingMemory, ChildInTheCgroupOfAnFdItCannotUseJoinsByItself) {
  // An fd that is not a cgroup2 directory: clone3 refuses CLONE_INTO_CGROUP,
  // the child is made without it and told so.
  nrun::sys::Fd not_a_cgroup(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(not_a_cgroup);
  bool into = true;
  volatile bool child_saw_into = true;
  nrun::sys::Fd pidfd;
  const pid_t pid = spawn_sharing_memory(
      [&] {
        child_saw_into = into;
        ::_exit(0);
      },
      not_a_cgroup.get(), &into, &pidfd, "spawn test child");
  EXPECT_FALSE(into);
  EXPECT_FALSE(child_saw_into) << "the child must know it has to join its cgroup itself";
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(exit_code_from_status(status), 0);
}
