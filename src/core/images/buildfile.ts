/**
 * The build file (`Cellfile`): a small subset of a Dockerfile, one instruction
 * per line (a trailing backslash continues it; `#` starts a comment line).
 *
 *   FROM image[:tag]            the base: exactly once, first
 *   RUN command …               runs `sh -c "command …"` in a container on the layers so far
 *   COPY src… dest              files from the build context (relative paths inside it)
 *   ENV KEY=VALUE …             the environment of later RUN steps and of containers
 *   CMD ["prog", "arg"] | CMD command …   what a container runs by default
 *
 * Every mistake is reported with the file and line, before any step runs.
 */
import { ImageError, parseRef } from './store.js';

export type Step =
  | { line: number; text: string; kind: 'FROM'; ref: string }
  | { line: number; text: string; kind: 'RUN'; command: string }
  | { line: number; text: string; kind: 'COPY'; sources: string[]; dest: string }
  | { line: number; text: string; kind: 'ENV'; vars: [string, string][] }
  | { line: number; text: string; kind: 'CMD'; argv: string[] };

export class BuildFileError extends ImageError {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

const KINDS = ['FROM', 'RUN', 'COPY', 'ENV', 'CMD'];
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The logical lines: continuations joined, comments and blank lines dropped, numbered from 1. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!pending && (trimmed === '' || trimmed.startsWith('#'))) return;
    const cont = trimmed.endsWith('\\');
    const part = cont ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending ? { line: pending.line, text: `${pending.text} ${part}`.trim() } : { line: i + 1, text: part };
    if (!cont) {
      out.push(pending);
      pending = undefined;
    }
  });
  if (pending) out.push(pending);
  return out;
}

/** A JSON array of strings (exec form), or undefined when `s` does not start with "[". */
function jsonArray(s: string, file: string, line: number, kind: string): string[] | undefined {
  if (!s.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new BuildFileError(
      file,
      line,
      `${kind}: ${s} looks like a JSON array but is not one (use double quotes: ["sh", "-c", "…"])`,
    );
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
    throw new BuildFileError(file, line, `${kind}: the JSON form must be a non-empty array of strings`);
  }
  return v as string[];
}

function relativeSource(src: string, file: string, line: number): string {
  if (src.startsWith('/') || src.split('/').includes('..')) {
    throw new BuildFileError(
      file,
      line,
      `COPY: source ${src} must be a path inside the build context (relative, without ..)`,
    );
  }
  return src;
}

export function parseBuildFile(text: string, file: string): Step[] {
  const steps: Step[] = [];
  for (const { line, text: l } of logicalLines(text)) {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    const word = m[1]!;
    const rest = m[2]!.trim();
    const kind = word.toUpperCase();
    if (!KINDS.includes(kind)) {
      throw new BuildFileError(file, line, `unknown instruction ${word}: the build file knows ${KINDS.join(', ')}`);
    }
    if (!rest) throw new BuildFileError(file, line, `${kind} needs an argument`);
    if (kind !== 'FROM' && steps.length === 0) {
      throw new BuildFileError(
        file,
        line,
        `${kind} before FROM: a build file starts with FROM IMAGE (e.g. FROM busybox)`,
      );
    }
    const text = `${kind} ${rest}`;
    switch (kind) {
      case 'FROM':
        if (steps.length > 0) throw new BuildFileError(file, line, 'a second FROM: one base image per build file');
        if (/\s/.test(rest))
          throw new BuildFileError(file, line, `FROM takes one image name, got ${JSON.stringify(rest)}`);
        try {
          parseRef(rest);
        } catch (err) {
          throw new BuildFileError(file, line, `FROM: ${(err as Error).message}`);
        }
        steps.push({ line, text, kind, ref: rest });
        break;
      case 'RUN': {
        const argv = jsonArray(rest, file, line, 'RUN');
        steps.push({ line, text, kind, command: argv ? argv.map(shellQuote).join(' ') : rest });
        break;
      }
      case 'COPY': {
        const args = jsonArray(rest, file, line, 'COPY') ?? rest.split(/\s+/);
        if (args.length < 2)
          throw new BuildFileError(file, line, 'COPY needs at least a source and a destination: COPY SRC… DEST');
        const dest = args.at(-1)!;
        steps.push({ line, text, kind, sources: args.slice(0, -1).map((s) => relativeSource(s, file, line)), dest });
        break;
      }
      case 'ENV': {
        const vars: [string, string][] = [];
        const tokens = rest.split(/\s+/);
        if (!tokens[0]!.includes('=')) {
          // the old form: ENV KEY value with spaces
          vars.push([tokens[0]!, rest.slice(tokens[0]!.length).trim()]);
        } else {
          for (const t of tokens) {
            const eq = t.indexOf('=');
            if (eq <= 0) throw new BuildFileError(file, line, `ENV: ${JSON.stringify(t)} is not KEY=VALUE`);
            vars.push([t.slice(0, eq), t.slice(eq + 1).replace(/^"(.*)"$/, '$1')]);
          }
        }
        for (const [k] of vars) {
          if (!ENV_KEY.test(k))
            throw new BuildFileError(
              file,
              line,
              `ENV: ${JSON.stringify(k)} is not a variable name (letters, digits, _)`,
            );
        }
        steps.push({ line, text, kind, vars });
        break;
      }
      case 'CMD':
        steps.push({ line, text, kind, argv: jsonArray(rest, file, line, 'CMD') ?? ['sh', '-c', rest] });
        break;
    }
  }
  if (steps.length === 0)
    throw new BuildFileError(file, 1, 'the build file is empty: start with FROM IMAGE (e.g. FROM busybox)');
  return steps;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
