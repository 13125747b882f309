/**
 * Lesson 00 checks: the container is a plain child process of the runtime.
 */
import { release } from 'node:os';
import { defineChecks, expectEqual, expectThat, startFailure } from '../src/workshop/checks.js';
import { hintSteps } from '../src/workshop/hint-steps.js';
import { namespacesOf, procStatus } from '../src/workshop/probe.js';

const WAIT = ['sh', '-c', 'echo ready; read _'];

export default defineChecks('00-process', [
  {
    name: 'the command runs and its output reaches the terminal',
    async run(env) {
      const t = await env.shared('echo', { config: { argv: ['echo', 'hello from a process'] } });
      return (
        startFailure(t) ??
        expectEqual(
          t.stdout,
          'hello from a process\n',
          hintSteps(
            '00-process',
            "the command's output did not arrive: the runtime reads the child's stdout through the pipes it asked for in `options.stdio` (Node docs: child_process, options.stdio)",
            'spawnChild must hand `options` to the child_process call unchanged: stdio and env are in there',
          ),
        )
      );
    },
  },
  {
    name: 'a clean exit reports status 0',
    async run(env) {
      const t = await env.shared('echo', { config: { argv: ['echo', 'hello from a process'] } });
      return startFailure(t) ?? expectEqual(t.status, 0);
    },
  },
  {
    name: 'the exit code is passed through (sh -c "exit 3" → 3)',
    async run(env) {
      const t = await env.trial({ config: { argv: ['sh', '-c', 'exit 3'] } });
      return (
        startFailure(t) ??
        expectEqual(
          t.status,
          3,
          hintSteps(
            '00-process',
            `the command exited 3 and the runtime reported ${t.status}: the status comes from the child, not from the runtime (man 1p sh: "$?")`,
            "waitForExit resolves with what the 'exit' event hands it — the code, when the process exited by itself",
          ),
        )
      );
    },
  },
  {
    name: 'death by a signal is reported as 128 + N (SIGTERM → 143)',
    async run(env) {
      const t = await env.trial({ config: { argv: ['sh', '-c', 'kill -TERM $$'] } });
      return (
        startFailure(t) ??
        expectEqual(
          t.status,
          143,
          t.status === 0 || t.status === undefined
            ? hintSteps(
                '00-process',
                `the command was killed by SIGTERM and the runtime reported ${t.status}: a process that dies by a signal has no exit code (man 7 signal; man 1p sh, "Exit Status": 128 + the signal's number)`,
                "the 'exit' event hands (code, signal), one of them null: for a signal, its number is in os.constants.signals",
              )
            : undefined,
        )
      );
    },
  },
  {
    name: 'the host sees the container as its own child process',
    async run(env) {
      let ppid: string | undefined;
      let name: string | undefined;
      const t = await env.shared('wait', {
        config: { argv: WAIT },
        whileRunning: (c) => {
          const st = procStatus(c.pid);
          ppid = st?.['PPid'];
          name = st?.['Name'];
        },
      });
      return (
        startFailure(t) ??
        expectThat(
          ppid === String(process.pid) && name === 'sh',
          `Name: sh, PPid: ${process.pid} (this runtime)`,
          `Name: ${name}, PPid: ${ppid}`,
          'the child must be spawned by the runtime itself, and exec the command',
        )
      );
    },
  },
  {
    // The VM-versus-container point: a VM boots a kernel of its own; a
    // container is a process of the host's, so uname(2) answers for the host.
    name: 'the container runs on the host’s kernel: `uname -r` inside is the host’s',
    async run(env) {
      const t = await env.trial({ config: { argv: ['uname', '-r'] } });
      return (
        startFailure(t) ??
        expectEqual(
          t.stdout.trim(),
          release(),
          'uname -r prints the running kernel’s release (man 2 uname): a container has no kernel of its own to report — the output must reach the terminal unchanged',
        )
      );
    },
  },
  {
    name: 'no namespace yet: every /proc/<pid>/ns/* is the host’s',
    async run(env) {
      const t = await env.shared('wait', { config: { argv: WAIT } });
      const host = namespacesOf('self');
      const differ = Object.entries(t.namespaces).filter(([k, v]) => host[k as keyof typeof host] !== v);
      return (
        startFailure(t) ??
        expectThat(
          differ.length === 0,
          'all equal to the host’s',
          differ.length === 0 ? 'all equal' : differ.map(([k, v]) => `${k} ${v}`).join(', '),
        )
      );
    },
  },
]);
