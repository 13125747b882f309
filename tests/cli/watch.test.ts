/**
 * `cellblock watch`, driven as a learner drives it: in a pseudo-terminal
 * (node-pty), saving files and pressing keys, in a throwaway checkout.
 */
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import * as pty from 'node-pty';
import { cliEnv, learnerCheckout, type Checkout } from '../support/checkout.js';
import { skipBecause } from '../support/skip.js';

// Colours, cursor moves, screen clears and OSC 8 hyperlinks: what a terminal hides.
const ANSI = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[A-Za-z]/g;

class Session {
  private raw = '';
  private exitCode: number | undefined;
  private readonly exited: Promise<number>;
  readonly term: pty.IPty;

  constructor(co: Checkout, args: string[]) {
    this.term = pty.spawn(process.execPath, [join(co.dir, 'src', 'bin', 'cellblock.mjs'), 'watch', ...args], {
      name: 'xterm-256color',
      cols: 140,
      rows: 50,
      cwd: co.dir,
      env: cliEnv({ FORCE_COLOR: '1', NO_COLOR: '' }) as Record<string, string>,
    });
    this.term.onData((d) => (this.raw += d));
    this.exited = new Promise((resolve) =>
      this.term.onExit(({ exitCode }) => {
        this.exitCode = exitCode;
        resolve(exitCode);
      }),
    );
  }

  /** Everything shown so far, as plain text. */
  get text(): string {
    return this.raw.replace(ANSI, '');
  }

  /** Where the output is now: waitFor looks only at what comes after. */
  mark(): number {
    return this.text.length;
  }

  async waitFor(re: RegExp, from = 0, ms = 20_000): Promise<number> {
    const start = Date.now();
    while (Date.now() - start < ms) {
      if (re.test(this.text.slice(from))) return Date.now() - start;
      if (this.exitCode !== undefined) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${re} within ${ms} ms; output since mark:\n${this.text.slice(from).slice(-3000)}`);
  }

  key(k: string): void {
    this.term.write(k);
  }

  async exit(ms = 10_000): Promise<number> {
    const t = setTimeout(() => this.term.kill('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  kill(): void {
    if (this.exitCode === undefined) this.term.kill('SIGKILL');
  }
}

function lessonFile(co: Checkout, tree: 'lessons' | 'solutions', id: string): string {
  const dir = join(co.dir, tree, id);
  return join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.ts'))!,
  );
}

describe('cellblock watch (through a pseudo-terminal)', function () {
  this.timeout(300_000);
  let co: Checkout;
  let s: Session | undefined;

  before(function () {
    if (process.getuid?.() !== 0) skipBecause(this, 'needs root (the checks run containers)');
    co = learnerCheckout({ git: true });
  });
  afterEach(() => s?.kill());
  after(() => co?.remove());

  it('re-checks on save within 2 s, and the keys work: hint, next, list, reset, check all, quit', async function () {
    s = new Session(co, []);
    // Start: the first unfinished lesson, its file as a path with the TODO's line, a progress bar.
    await s.waitFor(/checks passed/);
    expect(s.text).to.match(/Progress: \[-+\] 0\/\d+ lessons/);
    expect(s.text).to.match(/Lesson 00-process/);
    expect(s.text).to.match(/lessons\/00-process\/process\.ts:\d+/);
    expect(s.text).to.match(/n next · h hint · l list · c check all · r reset · q quit/);

    // h: the first hint, then the second.
    let m = s.mark();
    s.key('h');
    await s.waitFor(/Hint 1\/\d+/, m);
    m = s.mark();
    s.key('h');
    await s.waitFor(/Hint 2\/\d+/, m);

    // Save the finished lesson: the change is seen, the checks run, success says what is next.
    m = s.mark();
    const saved = Date.now();
    copyFileSync(lessonFile(co, 'solutions', '00-process'), lessonFile(co, 'lessons', '00-process'));
    await s.waitFor(/checking… \(saved: lessons\/00-process\/process\.ts\)/, m);
    const reaction = Date.now() - saved;
    await s.waitFor(/Lesson 00-process done/, m);
    const verdict = Date.now() - saved;
    this.test!.title += ` [reaction ${reaction} ms, verdict ${verdict} ms]`;
    expect(reaction, 'from save to re-check').to.be.below(2000);
    expect(s.text.slice(m)).to.match(/Reference solution, to compare with yours: solutions\/00-process\/process\.ts/);
    expect(s.text.slice(m)).to.match(/Next: 01-uts/);
    const progress = JSON.parse(readFileSync(join(co.dir, '.cellblock', 'progress.json'), 'utf8')) as {
      lessons: Record<string, { passed: boolean }>;
      hints: Record<string, number>;
    };
    expect(progress.lessons['00-process']?.passed).to.equal(true);
    expect(progress.hints['00-process']).to.equal(2);

    // n: the next lesson is checked at once.
    m = s.mark();
    s.key('n');
    await s.waitFor(/Lesson 01-uts[\s\S]*checks passed/, m);

    // l: every lesson with its state.
    m = s.mark();
    s.key('l');
    await s.waitFor(/✓ 00-process[\s\S]*→ 01-uts/, m);

    // r: asks first; n keeps the file.
    const uts = lessonFile(co, 'lessons', '01-uts');
    const starter = readFileSync(uts, 'utf8');
    writeFileSync(uts, `${starter}\n// my work in progress\n`);
    await s.waitFor(/saved: lessons\/01-uts\/uts\.ts[\s\S]*checks passed/, m);
    m = s.mark();
    s.key('r');
    await s.waitFor(/to the starter\? Your version is backed up first\. \[y\/N\]/, m);
    s.key('n');
    await s.waitFor(/Not reset\./, m);
    expect(readFileSync(uts, 'utf8')).to.contain('my work in progress');
    // r, y: the starter is back, the learner's version kept.
    m = s.mark();
    s.key('r');
    await s.waitFor(/\[y\/N\]/, m);
    s.key('y');
    await s.waitFor(/Restored the starter[\s\S]*Your version is kept in (\S+)/, m);
    expect(readFileSync(uts, 'utf8')).to.equal(starter);
    const backup = /Your version is kept in (\S+?)\.?\s/.exec(s.text.slice(m))![1]!;
    expect(readFileSync(join(co.dir, backup), 'utf8')).to.contain('my work in progress');
    await s.waitFor(/checking… \(reset to the starter\)[\s\S]*checks passed/, m);

    // c: every lesson, one line each, as each ends — the first three are
    // enough to see the loop go on (all thirteen take minutes on starters).
    m = s.mark();
    s.key('c');
    await s.waitFor(
      /Checking every lesson[\s\S]*00-process\s+\d+\/\d+[\s\S]*01-uts\s+\d+\/\d+[\s\S]*02-pid\s+\d+\/\d+/,
      m,
      60_000,
    );

    // q while it still checks: the check stops, and the exit is clean.
    s.key('q');
    expect(await s.exit()).to.equal(0);
    expect(s.text.slice(m)).to.match(/Bye/);
  });

  it('notices a save by polling alone (a synced folder, where inotify hears nothing) within 2 s', async function () {
    s = new Session(co, ['--poll', '--lesson', '01']);
    await s.waitFor(/polling for changes[\s\S]*checks passed/);
    const m = s.mark();
    const saved = Date.now();
    copyFileSync(lessonFile(co, 'solutions', '01-uts'), lessonFile(co, 'lessons', '01-uts'));
    await s.waitFor(/checking… \(saved: lessons\/01-uts\/uts\.ts\)/, m);
    const reaction = Date.now() - saved;
    await s.waitFor(/Lesson 01-uts done/, m);
    this.test!.title += ` [reaction ${reaction} ms, verdict ${Date.now() - saved} ms]`;
    expect(reaction).to.be.below(2000);
    s.key('q');
    expect(await s.exit()).to.equal(0);
  });

  it('a syntax error is shown, not a crash, and the fix is checked on the next save', async function () {
    s = new Session(co, ['--lesson', '00']);
    await s.waitFor(/checks passed/);
    const file = lessonFile(co, 'lessons', '00-process');
    const good = readFileSync(file, 'utf8');
    const m = s.mark();
    writeFileSync(file, `${good}\nexport const broken = ;\n`);
    await s.waitFor(/does not compile[\s\S]*Fix it and save again/, m);
    const m2 = s.mark();
    writeFileSync(file, good);
    await s.waitFor(/checks passed/, m2);
    s.key('q');
    expect(await s.exit()).to.equal(0);
  });
});
