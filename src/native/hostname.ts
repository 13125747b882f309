/**
 * The UTS namespace's contents: sethostname(2), gethostname(2).
 */
import koffi from 'koffi';
import { HOST_NAME_MAX } from './constants.js';
import { check, libc } from './libc.js';

const _sethostname = libc.func('int sethostname(const char *name, size_t len)');
const _gethostname = libc.func('int gethostname(_Out_ uint8_t *name, size_t len)');

/**
 * sethostname(2) changes the hostname of the caller's UTS namespace — which,
 * outside a new UTS namespace, is the whole machine's. Call it only inside one.
 * EINVAL if longer than HOST_NAME_MAX bytes, EPERM without CAP_SYS_ADMIN.
 */
export function sethostname(name: string): void {
  check(_sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
}

/** gethostname(2) of the calling thread's UTS namespace. */
export function gethostname(): string {
  const buf = Buffer.alloc(HOST_NAME_MAX + 1);
  check(_gethostname(buf, buf.length), 'gethostname');
  return koffi.decode(buf, 'char', -1) as string;
}
