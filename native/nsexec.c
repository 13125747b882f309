/*
 * cellblock-nsexec: the single-threaded step between the multithreaded Node
 * runtime and the container's init — cellblock's counterpart of runc's
 * libcontainer/nsenter/nsexec.c, for the same reason. The kernel refuses
 * unshare(CLONE_NEWUSER) (and setns into a user namespace) to a process with
 * more than one thread, and Node has a dozen from its first instruction, as
 * the Go runtime does. So a small C program does what Node cannot, before
 * anything else: it creates the user namespace *first*, waits while the
 * runtime writes uid_map and gid_map from the outside, becomes root of that
 * namespace, and only then creates the other namespaces — so that each of
 * them is owned by the new user namespace, which is what lets the remapped
 * root mount proc, set the hostname or configure its network in them.
 * Built at setup (scripts/setup.sh) into .cellblock/bin/cellblock-nsexec;
 * started by src/core/host/userns.ts from the runtime's main thread.
 *
 * Usage: cellblock-nsexec FLAGS PROG [ARGS...]
 *   FLAGS  decimal CLONE_NEW* mask (CLONE_NEWUSER included or not)
 *        cellblock-nsexec join PID KINDS PROG [ARGS...]      (cellblock exec)
 *        cellblock-nsexec join-detached PID KINDS PROG …     (cellblock-oci exec --detach:
 *                                                           not tied to the runtime's life)
 *   PID    host pid of a running container's init
 *   KINDS  comma-separated /proc/PID/ns names, in the order to join them
 *          (e.g. user,ipc,uts,net,cgroup,pid,mnt); the order is the caller's
 * Join mode opens every /proc/PID/ns/<kind> first (from the host's /proc),
 * then setns(2)s into each in turn — a namespace the helper is already in is
 * skipped (setns into one's own user namespace is EINVAL). After `user` it
 * becomes root of that namespace, as above. `mnt` is not joined here: PROG is
 * Node, which must still load itself and its scripts from the host's files;
 * its fd is passed to PROG as fd 5 and PROG joins it from its own thread.
 * setns(CLONE_NEWPID) moves only the caller's future children: after it, the
 * helper forks, stays the parent (as below) and PROG runs in the child.
 * fd 4 is the helper's sync socket with the runtime (fd 3 stays the init's):
 *   helper -> runtime  "U\n"          user ns created: write /proc/<helper>/{uid,gid}_map now
 *   runtime -> helper  "M\n"          maps written (and host-side idmapped mounts made)
 *   helper -> runtime  "P <pid>\n"    host pid of the init (PID 1 inside when FLAGS has NEWPID)
 *   helper -> runtime  "E <msg>\n"    a step failed; the helper exits 125
 * In join mode only "P" and "E" are sent.
 * With CLONE_NEWPID the helper forks and stays the init's parent: it forwards
 * signals to it and ends with the same status (exit code, or the same signal),
 * so the runtime's ChildProcess still describes the container. runc instead
 * lets its Go parent adopt PID 1 (CLONE_PARENT): Go can wait for any pid,
 * libuv reaps only the children it spawned itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYNC_FD 4
#define JOIN_MNT_FD 5 /* join mode: the container's mount namespace, for PROG */
static pid_t child = -1;

static void say(const char *fmt, long arg) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, fmt, arg);
  if (write(SYNC_FD, buf, n) != n) _exit(125);
}

static void fail(const char *step) {
  char buf[200];
  snprintf(buf, sizeof buf, "E %s: %s\n", step, strerror(errno));
  if (write(SYNC_FD, buf, strlen(buf)) < 0) {} /* runtime gone: nothing to tell */
  _exit(125);
}

static void wait_for(char expected) {
  char c = 0, nl = 0;
  if (read(SYNC_FD, &c, 1) != 1 || read(SYNC_FD, &nl, 1) != 1 || c != expected) {
    errno = EPROTO;
    fail("sync");
  }
}

static int run(int flags, char **prog);

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

/* Become the command. fds 0-2 and 3 are passed on; the helper's own sync fd is not. */
static void become(char **argv) {
  close(SYNC_FD);
  execvp(argv[0], argv);
  /* "P" was already sent: the runtime learns of this from the exit status 127 */
  fprintf(stderr, "cellblock-nsexec: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* Become root of the user namespace just created or joined (see the top). */
static void become_root(void) {
  /* Drop the host's supplementary groups (they would still grant access to
   * host-gid files), then become root of the new namespace. */
  if (setgroups(0, NULL) < 0 && errno != EPERM) fail("setgroups"); /* EPERM: setgroups=deny */
  if (setresgid(0, 0, 0) < 0) fail("setresgid");
  if (setresuid(0, 0, 0) < 0) fail("setresuid");
  /* Changing euid cleared the pdeath signal: set it again. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("prctl");
}

/* Same namespace as ours? (setns into one's own user namespace is EINVAL.) */
static int same_ns(int fd, const char *kind) {
  char path[64];
  struct stat a, b;
  snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
  if (fstat(fd, &a) < 0 || stat(path, &b) < 0) return 0;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Join mode: enter the namespaces of a running process, in the caller's order.
 * Returns the CLONE_NEWPID bit when the PID namespace was joined (the caller
 * must then fork: only children move).
 */
static int join(const char *pid, char *kinds) {
  int fds[16], n = 0, mnt = -1, joined_pid = 0;
  char *names[16], *save = NULL;
  /* Open every one first: after joining the PID or user namespace, /proc/PID
   * may no longer name the same process, or be ours to open. */
  for (char *k = strtok_r(kinds, ",", &save); k && n < 16; k = strtok_r(NULL, ",", &save)) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, k);
    names[n] = k;
    fds[n] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[n] < 0) fail(path);
    n++;
  }
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i], "mnt") == 0) {
      mnt = fds[i]; /* PROG's to join: see the top */
      continue;
    }
    if (same_ns(fds[i], names[i])) {
      close(fds[i]);
      continue;
    }
    if (setns(fds[i], 0) < 0) fail(names[i]);
    close(fds[i]);
    if (strcmp(names[i], "user") == 0) become_root();
    if (strcmp(names[i], "pid") == 0) joined_pid = CLONE_NEWPID;
  }
  if (mnt >= 0) {
    if (dup2(mnt, JOIN_MNT_FD) < 0) fail("dup2"); /* dup2 clears O_CLOEXEC */
    close(mnt);
  }
  return joined_pid;
}

int main(int argc, char **argv) {
  /* join-detached (cellblock-oci exec --detach): the runtime exits at once and
   * the helper, re-parented to the caller's subreaper (conmon), lives on as the
   * process's parent — so it must not die with the runtime. */
  int detached = argc >= 5 && strcmp(argv[1], "join-detached") == 0;
  if (argc >= 5 && (detached || strcmp(argv[1], "join") == 0)) {
    if (!detached && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("prctl");
    if (!detached && getppid() == 1) _exit(125);
    int flags = join(argv[2], argv[3]);
    return run(flags, argv + 4);
  }
  if (argc < 3) {
    fprintf(stderr, "usage: %s FLAGS PROG [ARGS...]\n", argv[0]);
    return 125;
  }
  int flags = (int)strtol(argv[1], NULL, 0);
  /* Die with the runtime. NB: "parent" = the *thread* that forked us. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("prctl");
  if (getppid() == 1) _exit(125); /* runtime already gone */

  if (flags & CLONE_NEWUSER) {
    if (unshare(CLONE_NEWUSER) < 0) fail("unshare(CLONE_NEWUSER)");
    say("U\n", 0);
    wait_for('M');
    become_root();
  }
  /* Every other namespace is created now, so the user namespace owns it. */
  if (unshare(flags & ~CLONE_NEWUSER) < 0) fail("unshare");
  return run(flags, argv + 2);
}

/* Start PROG: in place, or — with a new or joined PID namespace — as a child that is in it. */
static int run(int flags, char **prog) {
  if (!(flags & CLONE_NEWPID)) {
    say("P %ld\n", (long)getpid());
    become(prog);
  }

  /* Block the signals to forward until the handlers are in place. */
  static const int fwd[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, 0};
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  int alive[2]; /* the helper holds alive[1]: EOF on alive[0] means it has died */
  if (pipe(alive) < 0) fail("pipe");
  child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    /* PID 1 of the new PID namespace. Tie its life to the helper's. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(alive[1]); /* getppid() is 0 here: the parent is outside the PID ns */
    struct pollfd p = {.fd = alive[0], .events = POLLIN};
    if (poll(&p, 1, 0) != 0) _exit(125); /* helper died before the prctl */
    close(alive[0]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    become(prog);
  }
  close(alive[0]);
  say("P %ld\n", (long)child);
  close(SYNC_FD);
  close(3); /* the init's sync socket is the init's alone */
  close(JOIN_MNT_FD); /* join mode: so is the mount namespace (EBADF otherwise: harmless) */
  /* The reaper runs with container creds: keep it out of reach of ptrace/proc. */
  prctl(PR_SET_DUMPABLE, 0);
  struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  for (int i = 0; fwd[i]; i++) sigaction(fwd[i], &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);

  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return 125;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  /* Die of the same signal, so the runtime's ChildProcess sees signalCode. */
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  sigprocmask(SIG_UNBLOCK, &one, NULL);
  kill(getpid(), sig); /* non-dumpable: no core file from a re-raised SIGSEGV/SIGQUIT */
  return 128 + sig;
}
