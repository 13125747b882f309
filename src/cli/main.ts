/**
 * The `cellblock` command line. Each command is a plain async function in its
 * own module, imported only when used; commands throw, and only this file
 * prints errors and sets the exit code.
 */
import type { Argv, Options } from 'yargs';
import { parseRunFast, runOptions } from './run-options.js';
import { CliError } from './errors.js';

/** output.ts (chalk, the error classes) is loaded only when there is something to print. */
async function printError(err: unknown): Promise<number> {
  return (await import('./output.js')).printError(err);
}
import type { LessonOption } from '../core/lesson.js';
import { trace } from '../core/trace.js';

/** The options lessons add to `run` (--hostname, …), read from the lesson files themselves. */
async function lessonOptions(argv: string[]): Promise<Record<string, LessonOption>> {
  const { load, runSelection } = await import('../workshop/loader.js');
  // yargs has not parsed yet: `--lesson N` or `--lesson=N`, as run will read it.
  const at = argv.findIndex((a) => a === '--lesson' || a.startsWith('--lesson='));
  const dash = argv.indexOf('--');
  const lesson = at >= 0 && (dash < 0 || at < dash) ? (argv[at]!.split('=')[1] ?? argv[at + 1]) : undefined;
  const lessons = await load(runSelection({ lesson, solutions: argv.includes('--solutions') }));
  const options = Object.assign({}, ...lessons.map((l) => l.lesson.options ?? {})) as Record<string, LessonOption>;
  // An option of a lesson `--lesson N` leaves out (--pid before the lesson that adds it): name that lesson.
  const used = argv
    .slice(0, dash < 0 ? undefined : dash)
    .map((a) => /^--(?:no-)?([a-z][a-z0-9-]*)(=|$)/.exec(a)?.[1])
    .filter((o): o is string => o !== undefined && !(o in options));
  if (lesson !== undefined && used.length > 0) {
    const { laterProvider } = await import('../workshop/loader.js');
    for (const o of used) {
      const provider = await laterProvider(lessons, (l) => o in (l.options ?? {}));
      if (provider !== undefined) {
        throw new CliError(
          `--${o}: an option of lesson ${provider}, which \`--lesson ${lesson}\` does not load`,
          125,
          `run with \`--lesson ${provider}\` (or without --lesson once it is done), or leave --${o} out`,
        );
      }
    }
  }
  return options;
}

export async function main(argv: string[]): Promise<void> {
  trace('cli main');
  // `cellblock verify | head`: a closed pipe ends the output, not the program with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  let lessonOpts: Record<string, LessonOption> = {};
  if (argv[0] === 'run') {
    try {
      lessonOpts = await lessonOptions(argv);
      trace('lesson options loaded');
    } catch (err) {
      if (err instanceof CliError) {
        process.exitCode = await printError(err);
        return;
      }
      // A lesson that does not load must say so, not surface as "Unknown argument: hostname".
      process.exitCode = await printError(
        new CliError(
          `a lesson file does not load: ${err instanceof Error ? err.message : String(err)}`,
          125,
          '`cellblock verify N` shows which; or run the reference with --solutions',
        ),
      );
      return;
    }
  }
  const runSpec = runOptions(lessonOpts);
  if (argv[0] === 'run') {
    const fast = parseRunFast(argv.slice(1), runSpec);
    if (fast) {
      try {
        const { run } = await import('./commands/run.js');
        process.exitCode = await run(fast as never);
      } catch (err) {
        process.exitCode = await printError(err);
      }
      return;
    }
  }
  const { default: yargs } = await import('yargs');
  const cli: Argv = yargs(argv)
    .scriptName('cellblock')
    .usage('$0 <command>\n\nA container runtime you build yourself, one kernel feature per lesson.')
    .command(
      'run [image] [command..]',
      'run a container from the lessons (yours, or the reference with --solutions)',
      (y) =>
        y
          .options(runSpec as Record<string, Options>)
          .positional('image', {
            type: 'string',
            describe: 'an image (`cellblock images`); without one, the rootfs directory',
          })
          .positional('command', { type: 'string', array: true, describe: "the command (default: the image's)" })
          .example('$0 run --solutions --hostname box -- hostname', 'prints box')
          .example('$0 run -it -- sh', 'an interactive shell')
          .example('$0 run busybox -- cat /etc/os-release', 'a container of an image'),
      async (args) => {
        const { run } = await import('./commands/run.js');
        process.exitCode = await run(args as never);
      },
    )
    .command(
      'exec <container> [command..]',
      'run a command inside a running container: its namespaces, cgroups and restrictions',
      (y) =>
        y
          .positional('container', { type: 'string', demandOption: true, describe: 'the container id or --name' })
          .positional('command', { type: 'string', array: true, describe: 'the command' })
          .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin attached' })
          .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'give the command a terminal' })
          .option('env', { alias: 'e', type: 'string', array: true, nargs: 1, default: [], describe: 'KEY=VALUE' })
          .option('workdir', {
            alias: 'w',
            type: 'string',
            describe: "working directory inside (default: the container's)",
          })
          .option('user', { alias: 'u', type: 'string', describe: 'UID[:GID] inside (default: root)' })
          .example('$0 exec web -- hostname', "prints the container web's hostname"),
      async (args) => {
        const { exec } = await import('./commands/exec.js');
        process.exitCode = await exec(args as never);
      },
    )
    .command(
      'ps',
      'detached containers (`run -d`): running ones, or all with -a',
      (y) =>
        y
          .option('all', {
            alias: 'a',
            type: 'boolean',
            default: false,
            describe: 'also created, exited and dead ones',
          })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only the ids' })
          .option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { ps } = await import('./commands/containers.js');
        process.exitCode = await ps(args as never);
      },
    )
    .command(
      'logs <container>',
      "a detached container's output, from its json-file log (stdout and stderr apart)",
      (y) =>
        y
          .positional('container', { type: 'string', demandOption: true, describe: 'id, name or id prefix' })
          .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing until it ends' })
          .option('tail', { alias: 'n', type: 'string', describe: 'only the last N lines (or all)' })
          .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'the time of each line' }),
      async (args) => {
        const { logs } = await import('./commands/containers.js');
        process.exitCode = await logs(args as never);
      },
    )
    .command(
      'wait <containers..>',
      'wait until detached containers end; print each exit status',
      (y) => y.positional('containers', { type: 'string', array: true, demandOption: true }),
      async (args) => {
        const { wait } = await import('./commands/containers.js');
        process.exitCode = await wait(args as never);
      },
    )
    .command(
      'stop <containers..>',
      'SIGTERM, then SIGKILL after the grace period',
      (y) =>
        y
          .positional('containers', { type: 'string', array: true, demandOption: true })
          .option('time', { alias: 't', type: 'number', default: 10, describe: 'seconds to wait before SIGKILL' }),
      async (args) => {
        const { stop } = await import('./commands/containers.js');
        process.exitCode = await stop(args as never);
      },
    )
    .command(
      'kill <containers..>',
      "send a signal to detached containers' init (default SIGKILL)",
      (y) =>
        y.positional('containers', { type: 'string', array: true, demandOption: true }).option('signal', {
          alias: 's',
          type: 'string',
          default: 'KILL',
          describe: 'name (TERM, SIGTERM) or number',
        }),
      async (args) => {
        const { kill } = await import('./commands/containers.js');
        process.exitCode = await kill(args as never);
      },
    )
    .command(
      'rm <containers..>',
      'remove ended detached containers (with -f, running ones: killed first; dead ones: reclaimed)',
      (y) =>
        y
          .positional('containers', { type: 'string', array: true, demandOption: true })
          .option('force', { alias: 'f', type: 'boolean', default: false }),
      async (args) => {
        const { rm } = await import('./commands/containers.js');
        process.exitCode = await rm(args as never);
      },
    )
    .command(
      'attach <container>',
      "a detached container's output from now on, and stdin to it (run -d -i); exits with its status",
      (y) =>
        y
          .positional('container', { type: 'string', demandOption: true })
          .option('no-stdin', { type: 'boolean', default: false, describe: 'do not attach stdin' }),
      async (args) => {
        const { attach } = await import('./commands/containers.js');
        process.exitCode = await attach(args as never);
      },
    )
    .command('pod', 'pods: containers that share one network, IPC and hostname (a pause container holds them)', (y) =>
      y
        .command(
          'create <name>',
          'start a pod: its pause container, with the pod address and published ports',
          (z) =>
            z
              .positional('name', { type: 'string', demandOption: true })
              .option('publish', { alias: 'p', type: 'string', array: true, describe: 'HOSTPORT:CONTAINERPORT' })
              .option('share-pid', {
                type: 'boolean',
                default: false,
                describe: "members join the pause's PID namespace too (the pause is their PID 1)",
              })
              .option('solutions', { type: 'boolean', default: false })
              .option('lesson', { type: 'string', describe: 'as `cellblock run --lesson`' }),
          async (args) => {
            const { podCreate } = await import('./commands/pod.js');
            process.exitCode = await podCreate(args as never);
          },
        )
        .command(
          'ls',
          'list the pods and their members',
          (z) => z.option('json', { type: 'boolean', default: false }),
          async (args) => {
            const { podLs } = await import('./commands/pod.js');
            process.exitCode = await podLs(args as never);
          },
        )
        .command(
          'rm <name>',
          'remove a pod: its members (with -f, running ones: SIGKILL), then its pause container',
          (z) =>
            z.positional('name', { type: 'string', demandOption: true }).option('force', {
              alias: 'f',
              type: 'boolean',
              default: false,
              describe: 'kill running members (SIGKILL, as `docker rm -f`)',
            }),
          async (args) => {
            const { podRm } = await import('./commands/pod.js');
            process.exitCode = await podRm(args as never);
          },
        )
        .demandCommand(1, 'give a pod command: create, ls or rm'),
    )
    .command(
      'images',
      'list the images in the local store',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { images } = await import('./commands/images.js');
        process.exitCode = await images(args as never);
      },
    )
    .command(
      'build [context]',
      'build an image from a build file (FROM, RUN, COPY, ENV, CMD), one cached layer per step',
      (y) =>
        y
          .positional('context', { type: 'string', default: '.', describe: 'the directory COPY reads from' })
          .option('tag', { alias: 't', type: 'string', demandOption: true, describe: 'name[:tag] of the image' })
          .option('file', { alias: 'f', type: 'string', describe: 'the build file (default: CONTEXT/Cellfile)' })
          .example('$0 build -t hello examples/hello', 'builds hello:latest from examples/hello/Cellfile'),
      async (args) => {
        const { build } = await import('./commands/images.js');
        process.exitCode = await build(args as never);
      },
    )
    .command(
      'import <tarball> <image>',
      'a root filesystem tarball (.tar, .tar.gz) as a one-layer image, extracted safely',
      (y) =>
        y
          .positional('tarball', { type: 'string', demandOption: true })
          .positional('image', { type: 'string', demandOption: true, describe: 'name[:tag]' })
          .option('cmd', { type: 'string', array: true, describe: 'its default command (default: sh)' }),
      async (args) => {
        const { importImage } = await import('./commands/images.js');
        process.exitCode = await importImage(args as never);
      },
    )
    .command(
      'rmi <images..>',
      'remove images, and the layers nothing else uses',
      (y) => y.positional('images', { type: 'string', array: true, demandOption: true }),
      async (args) => {
        const { rmi } = await import('./commands/images.js');
        process.exitCode = await rmi(args as never);
      },
    )
    .command(
      'diff <container>',
      'what a container changed: its upper layer (running, or kept with run --keep) as A/C/D lines',
      (y) => y.positional('container', { type: 'string', demandOption: true, describe: 'the container id' }),
      async (args) => {
        const { diff } = await import('./commands/images.js');
        process.exitCode = await diff(args as never);
      },
    )
    .command(
      'stats [id]',
      'what running containers use — CPU, memory, pids, block I/O — from their cgroups (one sample)',
      (y) =>
        y
          .positional('id', { type: 'string', describe: 'a container id (default: every running one)' })
          .option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { stats } = await import('./commands/stats.js');
        process.exitCode = await stats(args as never);
      },
    )
    .command(
      'pause <id>',
      'freeze every process of a container (cgroup freezer)',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      async (args) => {
        const { pause } = await import('./commands/stats.js');
        process.exitCode = await pause(args as never);
      },
    )
    .command(
      'unpause <id>',
      'thaw a paused container',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      async (args) => {
        const { unpause } = await import('./commands/stats.js');
        process.exitCode = await unpause(args as never);
      },
    )
    .command(
      'verify [lesson]',
      'check a lesson: yours (default), or the reference with --solutions',
      (y) =>
        y
          .positional('lesson', { type: 'string', describe: 'lesson number or id (default: your next one)' })
          .option('solutions', { type: 'boolean', default: false })
          .option('json', { type: 'boolean', default: false, describe: 'machine-readable report' }),
      async (args) => {
        const { verify } = await import('./commands/verify.js');
        process.exitCode = await verify(args as never);
      },
    )
    .command(
      'status',
      'every lesson, done or not, and what is next',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { status } = await import('./commands/status.js');
        await status(args as never);
      },
    )
    .command(
      'hint <lesson>',
      'the next hint for a lesson (each call shows one more)',
      (y) =>
        y
          .positional('lesson', { type: 'string', demandOption: true })
          .option('all', { type: 'boolean', default: false, describe: 'every hint so far' }),
      async (args) => {
        const { hint } = await import('./commands/hint.js');
        await hint(args as never);
      },
    )
    .command(
      'doctor',
      'check this machine for everything the workshop needs',
      (y) => y.option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { doctor } = await import('./commands/doctor.js');
        process.exitCode = await doctor(args as never);
      },
    )
    .command(
      'watch',
      'the workshop loop: re-check the current lesson on every save (keys: n h l c r q)',
      (y) =>
        y
          .option('lesson', { type: 'string', describe: 'start at this lesson (default: your next one)' })
          .option('poll', {
            type: 'boolean',
            default: false,
            describe: 'poll for changes (automatic on a VM synced folder, where file events are missed)',
          }),
      async (args) => {
        const { watch } = await import('./commands/watch.js');
        process.exitCode = await watch(args as never);
      },
    )
    .command(
      'reset <lesson>',
      "put a lesson's starter back (your file is backed up) and remove its leftovers from the kernel",
      (y) =>
        y
          .positional('lesson', { type: 'string', demandOption: true })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'do not ask' })
          .option('from', { type: 'string', describe: 'the git commit to take the starter from (default: HEAD)' }),
      async (args) => {
        const { reset } = await import('./commands/reset.js');
        process.exitCode = await reset(args as never);
      },
    )
    .command(
      'daemon',
      'cellblockd: the Docker Engine API (1.41) on a unix socket, for the real docker CLI',
      (y) =>
        y
          .option('socket', { type: 'string', describe: 'the socket (default: /run/cellblock/docker.sock)' })
          .option('dir', { type: 'string', describe: "the daemon's records (default: /run/cellblock/daemon)" })
          .option('lesson', { type: 'string', describe: 'your lesson N on the reference of the others' })
          .option('backend', {
            type: 'string',
            choices: ['shim', 'inline'],
            describe: 'shim: a shim per container (default; they outlive the daemon); inline: inside the daemon',
          })
          .example(
            'DOCKER_HOST=unix:///run/cellblock/docker.sock docker run --rm busybox echo hi',
            'from another shell',
          ),
      async (args) => {
        const { daemon } = await import('./commands/daemon.js');
        process.exitCode = await daemon(args as never);
      },
    )
    .command(
      'cleanup',
      'remove every mount, cgroup, veth, netns, directory and process the workshop left behind',
      (y) =>
        y
          .option('dry-run', { type: 'boolean', default: false, describe: 'only list what would be removed' })
          .option('json', { type: 'boolean', default: false }),
      async (args) => {
        const { cleanup } = await import('./commands/cleanup.js');
        process.exitCode = await cleanup(args as never);
      },
    )
    .command(
      'grade',
      'grade every lesson on its own (reference code for the others); table, --json or --junit',
      (y) =>
        y
          .option('json', {
            type: 'boolean',
            default: false,
            describe: 'the report as JSON on stdout (docs/grading.md)',
          })
          .option('junit', { type: 'string', describe: 'also write a JUnit XML report to this file' })
          .option('lesson', { type: 'string', array: true, describe: 'only these lessons (default: all)' })
          .option('learner', { type: 'string', describe: 'name recorded in the report (default: $CELLBLOCK_LEARNER)' })
          .option('expect-fingerprint', {
            type: 'string',
            describe: "the instructor's fingerprint: any other one is reported as tampering",
          })
          .option('seal', {
            type: 'boolean',
            default: false,
            describe: 'maintainers: write SHA256SUMS for a release, then exit',
          }),
      async (args) => {
        const { grade } = await import('./commands/grade.js');
        process.exitCode = await grade(args as never);
      },
    )
    .demandCommand(
      1,
      'give a command: watch, run, exec, ps, logs, wait, stop, kill, rm, attach, pod, daemon, verify, status, hint, reset, cleanup, grade, doctor, stats, pause, unpause, images, build, import, rmi or diff',
    )
    .strict()
    .parserConfiguration({ 'populate--': false, 'unknown-options-as-args': false, 'halt-at-non-option': false })
    .help()
    .version(false)
    .fail((msg, err) => {
      throw err ?? new CliError(msg, 2, 'see `cellblock --help`');
    });

  try {
    await cli.parseAsync();
  } catch (err) {
    process.exitCode = await printError(err);
  }
}
