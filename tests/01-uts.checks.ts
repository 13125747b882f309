/**
 * Lesson 01 checks: a UTS namespace of its own, and the hostname inside it.
 */
import { readFileSync } from 'node:fs';
import { defineChecks, expectEqual, expectThat, startFailure } from '../src/workshop/checks.js';
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
          'same inode as the host: the process was not started in a new UTS namespace — return CLONE_NEWUTS from cloneFlags',
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
          'ask only for CLONE_NEWUTS: the other walls are later lessons',
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
            ? "it prints the host's name: nothing set a hostname inside the container (man 2 sethostname; look in `sys`)"
            : 'use the name from config.hostname',
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
        expectEqual(t.stdout.trim(), t.config.id, 'fall back to config.id when config.hostname is undefined')
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
        'the name was set outside the new namespace',
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
