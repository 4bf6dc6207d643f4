// NlSock keeps requests and answers in step (a reply left unread is never
// taken for the next request's), and open_rtnl_in makes a socket in another
// network namespace and comes back. Each test
// runs in a forked child in a new network namespace (EXPECT_EXIT), so the
// test process never changes namespace; skipped where unshare is refused.
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <netlink/msg.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "net/netlink.hpp"
#include "net/rtnl.hpp"

namespace nrun::net {
namespace {

bool can_unshare_net() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(::unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

ino_t netns_ino(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t own_netns_ino() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// Sends a GETLINK for "lo" on `sock` and reads nothing: its answer and ACK
// stay queued, as after a failed receive.
void send_unread_request(nl_sock* sock) {
  nl_msg* msg = nullptr;
  if (rtnl_link_build_get_request(0, "lo", &msg) < 0) ::_exit(3);
  if (nl_send_auto(sock, msg) < 0) ::_exit(4);
  nlmsg_free(msg);
}

class NetlinkSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_unshare_net()) GTEST_SKIP() << "unshare(CLONE_NEWNET) refused here";
  }
};

TEST_F(NetlinkSyncTest, AnUnreadAnswerIsNotTakenForTheNextRequests) {
  EXPECT_EXIT(
      {
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
        NlSock sock = open_rtnl();
        send_unread_request(sock.get());
        LibnlRtnl rtnl(std::move(sock));
        // Without the drain, the lookup reads the old answer, then its ACK.
        if (!rtnl.link_exists("lo")) ::_exit(5);
        if (rtnl.link_exists("nrit-none")) ::_exit(6);
        rtnl.set_link_up("lo");
        const auto names = rtnl.link_names();
        if (names.size() != 1 || names[0] != "lo") ::_exit(7);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(NetlinkSyncTest, SocketOpenedInAnotherNamespaceAndBack) {
  EXPECT_EXIT(
      {
        const sys::Fd first = sys::open_path("/proc/self/ns/net", O_RDONLY);
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(2);
        const ino_t ours = own_netns_ino();
        if (ours == netns_ino(first.get())) ::_exit(3);
        NlSock s = open_rtnl_in(first);
        const sys::Fd sock_ns(::ioctl(nl_socket_get_fd(s.get()), SIOCGSKNS));
        if (!sock_ns) ::_exit(4);
        if (netns_ino(sock_ns.get()) != netns_ino(first.get())) ::_exit(5);  // the socket is there
        if (own_netns_ino() != ours) ::_exit(6);                          // we are back here
        LibnlRtnl there(std::move(s));
        if (!there.link_exists("lo")) ::_exit(7);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(NetlinkSyncTest, JoiningANamespaceThatIsNotOneIsAnError) {
  EXPECT_EXIT(
      {
        const sys::Fd not_netns = sys::open_path("/proc/self/ns/uts", O_RDONLY);
        const ino_t ours = own_netns_ino();
        try {
          open_rtnl_in(not_netns);
        } catch (const sys::SysError& e) {
          ::_exit(e.err() == EINVAL && own_netns_ino() == ours ? 0 : 2);
        }
        ::_exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace nrun::net
