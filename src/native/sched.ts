/**
 * Namespaces: unshare(2) and setns(2).
 *
 * Namespaces belong to *threads* (struct task), not processes. Node runs ~7
 * threads, so calling these from JS changes only the JS thread:
 *  - unshare(CLONE_NEWPID) does not move the caller at all; it sets the pid
 *    namespace that the thread's *next child* will be PID 1 of. While that is
 *    pending, creating a thread fails (EINVAL), so no worker/thread-pool start
 *    may happen in that window.
 *  - unshare(CLONE_NEWUSER) fails with EINVAL in any multithreaded process:
 *    Node can never create a user namespace for itself.
 *  - unshare(CLONE_NEWNS) implies CLONE_FS: the thread's cwd/root stop being
 *    shared with the other threads.
 *  - child_process.spawn forks from the calling thread, so the child starts in
 *    every namespace this thread has unshared. That is how cellblock makes a
 *    container: unshare → spawn → setns back (see core/host/namespaces.ts).
 */
import { check, libc } from './libc.js';

const _unshare = libc.func('int unshare(int flags)');
const _setns = libc.func('int setns(int fd, int nstype)');

/**
 * unshare(2): give the calling thread new namespaces of the kinds in `flags`
 * (CLONE_NEWUTS | CLONE_NEWPID | …). Needs CAP_SYS_ADMIN (EPERM otherwise).
 */
export function unshare(flags: number): void {
  check(_unshare(flags), 'unshare');
}

/**
 * setns(2): move the calling thread into the namespace `fd` refers to (an open
 * /proc/<pid>/ns/<type> file). `nstype` is the CLONE_NEW* flag it must be, or 0
 * for "any". For a mount namespace the kernel also resets the thread's cwd to
 * the namespace's root: chdir back afterwards.
 */
export function setns(fd: number, nstype: number): void {
  check(_setns(fd, nstype), 'setns');
}
