/**
 * Signals: kill(2), dispositions and masks: signal(2), pthread_sigmask(3).
 *
 * Why a container runtime cares: handlers are reset by execve, but *ignored*
 * signals and the *blocked* mask are inherited. Node ignores SIGPIPE (and
 * SIGXFSZ), so without a reset `yes | head -1` in the container would never end
 * by SIGPIPE, exactly the bug runc and Docker fixed early on.
 */
import { NSIG, SIG_SETMASK } from './constants.js';
import { check, libc } from './libc.js';

const _signal = libc.func('void *signal(int signum, void *handler)');
const _pthread_sigmask = libc.func('int pthread_sigmask(int how, const uint8_t *set, uint8_t *oldset)');
const _kill = libc.func('int kill(int pid, int sig)');

const SIGKILL = 9;
const SIGSTOP = 19;

/** signal(2) with SIG_DFL (a NULL handler): restore the default action of `signum`. */
export function signal_default(signum: number): void {
  _signal(signum, null);
}

/**
 * Every catchable signal back to SIG_DFL. SIGKILL/SIGSTOP cannot be changed,
 * and glibc refuses the two real-time signals it reserves for itself (32, 33):
 * both are skipped or fail harmlessly.
 */
export function reset_all_signals(): void {
  for (let sig = 1; sig < NSIG; sig++) {
    if (sig === SIGKILL || sig === SIGSTOP) continue;
    signal_default(sig);
  }
}

/** pthread_sigmask(SIG_SETMASK, {}): unblock everything for the calling thread. */
export function unblock_all_signals(): void {
  const empty = Buffer.alloc(128); // sizeof(sigset_t) in glibc: 1024 bits
  check(_pthread_sigmask(SIG_SETMASK, empty, null), 'pthread_sigmask');
}

/**
 * kill(2): send `sig` to process `pid` (a negative pid: to that process group).
 * Numbers, as in C. A PID namespace's init only receives the signals it has a
 * handler for (SIGKILL and SIGSTOP from an ancestor namespace excepted): see
 * pid_namespaces(7).
 */
export function kill(pid: number, sig: number): void {
  check(_kill(pid, sig), 'kill', `pid ${pid}`);
}
