/*
 * secprobe — lesson 09's probe, shipped in the workshop's rootfs as
 * /usr/local/bin/secprobe: the system calls busybox has no applet for, made
 * raw, each printing what the kernel answered ("ok" or the errno's name).
 *
 *   secprobe clone-newuser   clone(CLONE_NEWUSER | SIGCHLD): a user namespace
 *                            needs no capability, so only seccomp can refuse it
 *   secprobe clone3          clone3 with no flags: ENOSYS under the default filter
 *   secprobe x32             the x32 ABI's getpid (x86_64 only): the filter must
 *                            kill it (SIGSYS, status 159), not let it through
 *   secprobe open-write PATH open(PATH, O_WRONLY): CVE-2019-5736's first step
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(const char *what, long ret) {
  if (ret < 0) {
    printf("%s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
    return 1;
  }
  printf("%s: ok\n", what);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "clone-newuser") == 0) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return report("clone(CLONE_NEWUSER)", pid);
  }
  if (argc >= 2 && strcmp(argv[1], "clone3") == 0) {
    unsigned long long args[11] = {0};
    args[4] = SIGCHLD; /* exit_signal */
    long pid = syscall(435, args, sizeof args);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return report("clone3", pid);
  }
#ifdef __x86_64__
  if (argc >= 2 && strcmp(argv[1], "x32") == 0) {
    return report("x32 getpid", syscall(0x40000000 | SYS_getpid));
  }
#endif
  if (argc >= 3 && strcmp(argv[1], "open-write") == 0) {
    int fd = open(argv[2], O_WRONLY);
    return report("open O_WRONLY", fd);
  }
  fprintf(stderr, "usage: secprobe clone-newuser | clone3 | x32 | open-write PATH\n");
  return 2;
}
