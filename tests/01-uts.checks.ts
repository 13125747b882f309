/**
 * Lesson 01 checks: a UTS namespace of its own, and the hostname inside it.
 */
import { readFileSync } from 'node:fs';
import { defineChecks, expectEqual, expectThat, startFailure } from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import { namespacesOf } from '../src/workshop/probe.js';

const HOST_HOSTNAME = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
// Print the name, then wait on stdin so the host can look at the running process.
const HOSTNAME_AND_WAIT = { argv: ['sh', '-c', 'hostname; read _'], hostname: 'box01' };

export default defineChecks('01-uts', [
  {
    name: 'the container has its own UTS namespace',
    async run(env) {
      const t = await env.shared('box01', { config: HOSTNAME_AND_WAIT });
      const host = namespacesOf('self').uts;
      return (
        startFailure(t) ??
        expectThat(
          t.namespaces.uts !== undefined && t.namespaces.uts !== host,
          `a uts inode other than the host's ${host}`,
          `${t.namespaces.uts}`,
          hintSteps(
            '01-uts',
            "the same uts inode as the host's: the container's first process was not started in a new UTS namespace (man 7 uts_namespaces, man 2 unshare)",
            'the runtime asks the kernel for the namespaces that cloneFlags returns, right before it spawns the init: which CLONE_NEW* flag is about hostnames? It is already imported',
          ),
        )
      );
    },
  },
  {
    name: 'only UTS is isolated: the other namespaces are still the host’s',
    provided: true,
    async run(env) {
      const t = await env.shared('box01', { config: HOSTNAME_AND_WAIT });
      const host = namespacesOf('self');
      const extra = (['ipc', 'net', 'mnt', 'pid', 'cgroup'] as const).filter(
        (k) => t.namespaces[k] !== undefined && t.namespaces[k] !== host[k],
      );
      return (
        startFailure(t) ??
        expectThat(
          extra.length === 0,
          'ipc, net, mnt, pid, cgroup equal to the host’s',
          extra.length === 0 ? 'equal' : `new: ${extra.join(', ')}`,
          'a namespace this lesson does not need was asked for: each CLONE_NEW* flag is a wall of its own, and the others are later lessons (man 7 namespaces)',
        )
      );
    },
  },
  {
    name: '`hostname` inside prints the name given with --hostname',
    async run(env) {
      const t = await env.shared('box01', { config: HOSTNAME_AND_WAIT });
      const found = t.stdout.trim();
      return (
        startFailure(t) ??
        expectEqual(
          found,
          'box01',
          found === HOST_HOSTNAME
            ? hintSteps(
                '01-uts',
                "it prints the host's name: a new UTS namespace starts as a copy of the host's, and nothing inside changed it (man 2 sethostname)",
                'init() runs inside the container: the syscalls in `sys` carry their C names',
              )
            : `it prints ${JSON.stringify(found)}: the name asked for with --hostname arrives in the config the init receives`,
        )
      );
    },
  },
  {
    name: 'without --hostname, the hostname is the container id (as docker does)',
    async run(env) {
      const t = await env.trial({ config: { argv: ['hostname'] } });
      return (
        startFailure(t) ??
        expectEqual(
          t.stdout.trim(),
          t.config.id,
          `without --hostname it prints ${JSON.stringify(t.stdout.trim())}: docker names such a container's host after its id, which is in the config too`,
        )
      );
    },
  },
  {
    name: 'the host’s hostname is unchanged',
    provided: true,
    async run(env) {
      await env.shared('box01', { config: HOSTNAME_AND_WAIT });
      return expectEqual(
        readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(),
        HOST_HOSTNAME,
        "the host's name changed: the name was set in a UTS namespace the host shares (man 7 uts_namespaces)",
      );
    },
  },
  {
    name: 'a 65-byte hostname is rejected before anything is created',
    provided: true,
    async run(env) {
      const long = 'h'.repeat(65);
      const t = await env.trial({ config: { argv: ['true'], hostname: long } });
      return expectThat(
        t.error?.name === 'ConfigError' && t.error.message.includes('65 bytes') && t.spawned === 0,
        'a ConfigError naming the 65-byte name, and no process spawned',
        t.error
          ? `${t.error.name}: ${t.error.message} (spawned ${t.spawned})`
          : `status ${t.status}, spawned ${t.spawned}`,
        'keep the HOST_NAME_MAX validation in the lesson file',
      );
    },
  },
]);
