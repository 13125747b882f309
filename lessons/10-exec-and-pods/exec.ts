/**
 * Lesson 10 — into a running container: setns(2), what `docker exec` does.
 *
 * GOAL: `cellblock exec NAME -- CMD` runs CMD inside a running container: in
 * every one of its namespaces, in its cgroups, under its restrictions (lesson
 * 09 already hands those on). The runtime's C helper does the setns(2) calls;
 * you decide which namespaces it joins, in which order, and you put the new
 * process into the container's cgroups from the host.
 * Check your work with `cellblock verify 10`.
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
    // TODO [join-order]: name the init's namespaces to join (as /proc/<pid>/ns names them), in the order to join them.
    // HINT: `ls -l /proc/self/ns` lists the names. man 2 setns: which kind must be joined first,
    // which one moves only the caller's children, and which one changes the caller's root and cwd?
    return [];
  },

  hostJoin({ initPid, pid }) {
    // TODO [join-cgroup]: move the joining process (pid) into every cgroup the container's init is in.
    // HINT: cgroupsOf(initPid) lists them, each with its directory on this host (man 7 cgroups:
    // /proc/<pid>/cgroup). Which file of a cgroup directory moves a process into it?
    void [initPid, pid, cgroupsOf, writeFileSync, join];
  },
});
