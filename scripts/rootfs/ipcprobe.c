/*
 * ipcprobe — lesson 07's probe, shipped in the workshop's rootfs as
 * /usr/local/bin/ipcprobe. busybox has `ipcs` but no `ipcmk`, and nothing for
 * POSIX message queues; this makes and lists both kinds of IPC object, in the
 * IPC namespace of whoever runs it (inside a container, or on the host).
 *
 *   ipcprobe mkshm KEY     System V shared memory: shmget(KEY, IPC_CREAT|IPC_EXCL)
 *   ipcprobe rmshm KEY     shmctl(IPC_RMID) of the segment with that key
 *   ipcprobe shm           every segment's key, one per line (0x%08x), via SHM_STAT
 *   ipcprobe mkmq NAME     POSIX message queue: mq_open("/NAME", O_CREAT|O_EXCL)
 *   ipcprobe rmmq NAME     mq_unlink("/NAME")
 *   ipcprobe mq            every queue's name, one per line. Queues are files of
 *                          an mqueue filesystem: when /dev/mqueue is not one, the
 *                          probe mounts a fresh one in a private mount namespace
 *                          of its own (an mqueue mount shows the queues of the
 *                          mounter's IPC namespace)
 * Exit status: 0 done, 1 the kernel said no (message on stderr), 2 usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/statfs.h>
#include <unistd.h>

#define MQUEUE_MAGIC 0x19800202

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "ipcprobe: %s %s: %s\n", what, arg, strerror(errno));
  return 1;
}

static int list_shm(void) {
  struct shm_info info;
  int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);
  if (max < 0) return fail("shmctl", "SHM_INFO");
  for (int i = 0; i <= max; i++) {
    struct shmid_ds ds;
    if (shmctl(i, SHM_STAT, &ds) < 0) continue; /* a free slot */
    printf("0x%08x\n", (unsigned)ds.shm_perm.__key);
  }
  return 0;
}

static int list_mq(void) {
  const char *dir = "/dev/mqueue";
  struct statfs st;
  if (statfs(dir, &st) < 0 || st.f_type != MQUEUE_MAGIC) {
    /* No mqueue filesystem in sight: mount our own, where nobody else sees it. */
    dir = "/tmp";
    if (unshare(CLONE_NEWNS) < 0) return fail("unshare", "CLONE_NEWNS");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail("mount", "/ private");
    if (mount("mqueue", dir, "mqueue", 0, NULL) < 0) return fail("mount mqueue", dir);
  }
  DIR *d = opendir(dir);
  if (!d) return fail("opendir", dir);
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') printf("%s\n", e->d_name);
  closedir(d);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  const char *arg = argc > 2 ? argv[2] : NULL;
  char name[256];
  if (arg) snprintf(name, sizeof name, "/%s", arg[0] == '/' ? arg + 1 : arg);

  if (!strcmp(cmd, "shm") && !arg) return list_shm();
  if (!strcmp(cmd, "mq") && !arg) return list_mq();
  if (!strcmp(cmd, "mkshm") && arg) {
    int id = shmget((key_t)strtoul(arg, NULL, 0), 4096, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0) return fail("shmget", arg);
    printf("%d\n", id);
    return 0;
  }
  if (!strcmp(cmd, "rmshm") && arg) {
    int id = shmget((key_t)strtoul(arg, NULL, 0), 0, 0);
    if (id < 0 || shmctl(id, IPC_RMID, NULL) < 0) return fail("rmshm", arg);
    return 0;
  }
  if (!strcmp(cmd, "mkmq") && arg) {
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    if (q == (mqd_t)-1) return fail("mq_open", name);
    mq_close(q);
    return 0;
  }
  if (!strcmp(cmd, "rmmq") && arg) {
    if (mq_unlink(name) < 0) return fail("mq_unlink", name);
    return 0;
  }
  fprintf(stderr, "usage: ipcprobe mkshm KEY | rmshm KEY | shm | mkmq NAME | rmmq NAME | mq\n");
  return 2;
}
