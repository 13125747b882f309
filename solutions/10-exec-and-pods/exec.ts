/**
 * Lesson 10 — into a running container: setns(2), what `docker exec` does.
 *
 * A container is a process in namespaces, a cgroup and a few restrictions.
 * A second process becomes part of it by joining the same ones:
 *
 *   joinNamespaces   which of the init's namespaces, in which order: the C
 *                    helper (native/nsexec.c, join mode) opens
 *                    /proc/<init>/ns/<kind> for each and calls setns(2)
 *   hostJoin         the host moves the joining process into the init's cgroups
 *   (lesson 09)      beforeJoinExec: the same capabilities, no_new_privs, seccomp
 *
 * Why a C helper: setns into a user namespace is refused to a process with
 * more than one thread, and Node has a dozen (lesson 08). The helper joins,
 * then starts the Node step that joins the mount namespace last — from its
 * own thread, after it has loaded itself from the host's files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupsOf } from '../../src/core/cgroups/member.js';
import type { ContainerConfig } from '../../src/core/config.js';
import {
  podCgroupParent,
  sharedHostname,
  sharedNamespaces,
  shareValidations,
  type ShareFields,
} from '../../src/core/pods/pods.js';
import { defineLesson } from '../../src/core/lesson.js';

export default defineLesson<ContainerConfig & ShareFields>({
  id: '10-exec-and-pods',
  options: {
    ipc: { type: 'string', describe: "container:NAME: that container's IPC namespace" },
    uts: { type: 'string', describe: "container:NAME: that container's UTS namespace (its hostname)" },
    pid: { type: 'string', describe: "container:NAME: that container's PID namespace (its PID 1 reaps)" },
    'share-pid': { type: 'boolean', describe: "a pod's pause container only (`pod create --share-pid`)" },
    pod: { type: 'string', describe: 'join pod NAME (`cellblock pod create`): its network, IPC and hostname' },
  },
  // A container to share with must be running; a pod member takes the pod's network and name.
  validate: shareValidations,
  // --net/--ipc/--uts container:NAME, --pod NAME: the init starts in those namespaces, not new ones.
  shareNamespaces: sharedNamespaces,
  // A pod's containers have their cgroups under the pod's: cellblock/cb-pod-NAME/<id>.
  cgroupParent: podCgroupParent,

  hostAfterSpawn({ config }) {
    // The UTS namespace is the pod's or another container's: lesson 01 sets the hostname it already has.
    const hostname = sharedHostname(config);
    if (hostname !== undefined) config.hostname = hostname;
  },

  joinNamespaces() {
    // [join-order] man 2 setns: the user namespace first — joining it makes
    // us root *of it*, which is what the other joins are checked against when
    // the container has one (the helper skips any namespace it is already in,
    // so a container without one costs nothing). The PID namespace moves only
    // children (pid_for_children): the helper forks after it. The mount
    // namespace last: it changes root and cwd, and the process that joins it
    // must already have loaded everything it needs from the host.
    return ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'];
  },

  hostJoin({ initPid, pid }) {
    // [join-cgroup] Namespaces change what a process sees, not what it may
    // use: limits and accounting come from the cgroups. Every hierarchy the
    // init is in (v1: one per controller; v2: one), the same directory —
    // cgroup.procs moves a whole process (man 7 cgroups). Done by the host,
    // before the process runs anything of the user's.
    for (const { dir } of cgroupsOf(initPid)) {
      if (dir) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    }
  },
});
