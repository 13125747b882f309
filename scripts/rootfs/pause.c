/*
 * pause: the process that holds a pod's namespaces (lesson 10), the same idea
 * as Kubernetes' build/pause. It is PID 1 of the pod's first container and
 * does nothing but exist: the pod's network, IPC and UTS namespaces live as
 * long as some process is in them, and the app containers come and go. While
 * it waits it reaps any zombie re-parented to it (a PID 1's duty, lesson 02),
 * and it ends on SIGINT or SIGTERM — a PID 1 has no default action for them,
 * so it must catch them itself.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* sigsuspend: man 2 sigsuspend */

static volatile sig_atomic_t stop;

static void on_stop(int sig) { stop = sig; }

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  errno = saved;
}

int main(void) {
  /* Blocked until sigsuspend: a signal between the test of `stop` and the
   * sleep would otherwise be handled there and the sleep never end. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_stop;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return 1;
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, NULL) < 0) return 1;
  if (getpid() != 1) fprintf(stderr, "pause: warning: not PID 1 (pid %d)\n", (int)getpid());
  while (!stop) sigsuspend(&old); /* sleeps until a signal has been handled */
  return 0;
}
