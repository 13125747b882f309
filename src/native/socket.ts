/**
 * Unix sockets that carry file descriptors: socket(2), connect(2), sendmsg(2)
 * with SCM_RIGHTS (man 7 unix). Node's net module cannot pass an fd to a
 * process that is not its own child, and that is exactly what an OCI runtime
 * must do with `--console-socket`: hand the pty master to whoever listens on
 * the socket (containerd's shim, Podman's conmon), as runc does.
 */
import koffi from 'koffi';
import { check, libc } from './libc.js';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

const iovec = koffi.struct('cb_iovec', { iov_base: 'void *', iov_len: 'size_t' });
const msghdr = koffi.struct('cb_msghdr', {
  msg_name: 'void *',
  msg_namelen: 'uint32_t',
  msg_iov: koffi.pointer(iovec),
  msg_iovlen: 'size_t',
  msg_control: 'void *',
  msg_controllen: 'size_t',
  msg_flags: 'int',
});

const _socket = libc.func('int socket(int domain, int type, int protocol)');
const _connect = libc.func('int connect(int sockfd, const uint8_t *addr, uint32_t addrlen)');
const _sendmsg = libc.func('sendmsg', 'long', ['int', koffi.pointer(msghdr), 'int']);
const _close = libc.func('int close(int fd)');

/** struct sockaddr_un for `path`: sa_family_t (2 bytes), then the path, NUL-terminated (at most 107 bytes). */
function sockaddrUn(path: string): Buffer {
  const bytes = Buffer.from(path);
  if (bytes.length > 107) throw new Error(`socket path ${JSON.stringify(path)} is longer than 107 bytes (sun_path)`);
  const addr = Buffer.alloc(2 + 108);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  return addr;
}

/**
 * Connect to the stream socket at `path` and send `fd` with SCM_RIGHTS, the
 * message body being `name` (runc sends the pty's name, e.g. /dev/pts/3; the
 * receiver keeps the fd, a new descriptor of the same open file).
 */
export function sendFd(path: string, fd: number, name: string): void {
  const sock = check(_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
  try {
    const addr = sockaddrUn(path);
    check(_connect(sock, addr, addr.length), 'connect', path);
    const body = Buffer.from(name);
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the int:
    // CMSG_LEN(4) = 20 bytes, CMSG_SPACE(4) = 24 on 64-bit Linux.
    const control = Buffer.alloc(24);
    control.writeBigUInt64LE(20n, 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const msg = {
      msg_name: null,
      msg_namelen: 0,
      msg_iov: [{ iov_base: body, iov_len: body.length }],
      msg_iovlen: 1,
      msg_control: control,
      msg_controllen: control.length,
      msg_flags: 0,
    };
    check(_sendmsg(sock, msg, 0), 'sendmsg', path);
  } finally {
    _close(sock);
  }
}

const SOCK_NONBLOCK = 0o4000;
const _bind = libc.func('int bind(int sockfd, const uint8_t *addr, uint32_t addrlen)');
const _listen = libc.func('int listen(int sockfd, int backlog)');
const _accept4 = libc.func('int accept4(int sockfd, void *addr, void *addrlen, int flags)');
const _recvmsg = libc.func('recvmsg', 'long', ['int', koffi.inout(koffi.pointer(msghdr)), 'int']);

/** A listening, non-blocking stream socket at `path` (what --console-socket names): its fd. */
export function listenUnix(path: string): number {
  const sock = check(_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), 'socket');
  try {
    const addr = sockaddrUn(path);
    check(_bind(sock, addr, addr.length), 'bind', path);
    check(_listen(sock, 1), 'listen', path);
    return sock;
  } catch (err) {
    _close(sock);
    throw err;
  }
}

/**
 * One connection on a listening socket, then the fd it sends with SCM_RIGHTS
 * (sendFd's message). Undefined while nobody has connected or sent yet
 * (EAGAIN: the socket is non-blocking, so Node's thread never waits here).
 */
export function acceptFd(listening: number): number | undefined {
  const conn = _accept4(listening, null, null, SOCK_CLOEXEC);
  if (conn === -1) {
    const errno = koffi.errno();
    if (errno === 11) return undefined; // EAGAIN
    check(-1, 'accept4');
  }
  try {
    const body = Buffer.alloc(256);
    const control = Buffer.alloc(24);
    const msg = {
      msg_name: null,
      msg_namelen: 0,
      msg_iov: [{ iov_base: body, iov_len: body.length }],
      msg_iovlen: 1,
      msg_control: control,
      msg_controllen: control.length,
      msg_flags: 0,
    };
    // The sender connects, then sends at once: the message is there, or on its way.
    for (let tries = 0; ; tries++) {
      const n = Number(_recvmsg(conn, msg, 0));
      if (n >= 0) break;
      if (koffi.errno() !== 11 || tries > 1000) check(-1, 'recvmsg');
    }
    if (control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
      throw new Error('recvmsg: the message carried no file descriptor (SCM_RIGHTS)');
    }
    return control.readInt32LE(16);
  } finally {
    _close(conn);
  }
}
