/**
 * Reading the machine without tripping over it. The kernel's trees change
 * under a reader — a process exits between readdir and read, a cgroup is
 * removed while it is walked, a lease file is renamed — so inventories, probes,
 * cleanup and doctor treat "it is not there" as empty, never as an error.
 * Everything else (EACCES, EIO) is still empty here: these readers only look;
 * the code that changes the machine reports its own errors.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The names in a directory, or none if it cannot be read. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A file's text, or '' if it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A JSON file, or undefined if it is missing or not JSON. */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * Every regular file below `dir`, as absolute paths, sorted; none if `dir`
 * cannot be read. Node's own recursive readdir: symbolic links are listed,
 * not followed, so they are not files here.
 */
export function filesBelow(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Every directory below `root` (not `root` itself), children before their
 * parent — the order rmdir needs, and the one cgroupfs requires. Symbolic
 * links are not followed. `maxDepth` 1 lists the direct subdirectories. (Not
 * Node's recursive readdir: cgroupfs trees are walked only as deep as needed.)
 */
export function subdirsDeepestFirst(root: string, maxDepth = Infinity): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const name of listDir(dir)) {
      const p = join(dir, name);
      let isDir = false;
      try {
        isDir = lstatSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
      } catch {
        continue;
      }
      if (!isDir) continue;
      if (depth < maxDepth) walk(p, depth + 1);
      out.push(p);
    }
  };
  walk(root, 1);
  return out;
}
