/**
 * "The learner saved a file": fs.watch for an instant reaction, plus polling,
 * because fs.watch (inotify) never hears about writes made on the *host* side
 * of a VM's synced folder (vboxsf, NFS, 9p, virtiofs, VMware/Parallels shares).
 *
 * Both feed one comparison of (mtime, size) per file, so a save seen by both,
 * or an editor's write-then-rename, still counts once.
 */
import { statSync, statfsSync, watch, type FSWatcher } from 'node:fs';
import { filesBelow } from '../core/read.js';

/** statfs f_type of filesystems that are a host folder seen from a VM (linux/magic.h, fuse for vmhgfs/virtiofs). */
const SYNCED_FOLDER_TYPES: Record<number, string> = {
  0x786f4256: 'vboxsf',
  0x6969: 'nfs',
  0x01021997: '9p',
  0x65735546: 'fuse (virtiofs, vmhgfs)',
  0x7c7c6673: 'prl_fs',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
};

/** The synced-folder filesystem `dir` is on, or undefined for a local disk. */
export function syncedFolderType(dir: string): string | undefined {
  try {
    return SYNCED_FOLDER_TYPES[statfsSync(dir).type];
  } catch {
    return undefined;
  }
}

export interface WatchOptions {
  dirs: string[];
  /** Which files matter. */
  filter?: (path: string) => boolean;
  /** Poll only: never rely on fs.watch. */
  pollOnly?: boolean;
  intervalMs?: number;
  onChange: (files: string[]) => void;
}

export class FileWatcher {
  private sigs = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  /** 'inotify+poll' or 'poll': what is in use, for the screen. */
  mode = 'poll';

  constructor(private readonly opts: WatchOptions) {}

  start(): void {
    this.sigs = this.scan();
    const interval = this.opts.intervalMs ?? (this.opts.pollOnly ? 300 : 1000);
    this.timer = setInterval(() => this.check(), interval);
    if (!this.opts.pollOnly) {
      for (const dir of this.opts.dirs) {
        try {
          const w = watch(dir, { recursive: true }, () => this.soon());
          w.on('error', () => undefined); // a removed directory: polling carries on
          this.watchers.push(w);
        } catch {
          // no recursive watch on this platform/filesystem: polling alone
        }
      }
      if (this.watchers.length > 0) this.mode = 'inotify+poll';
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Forget the current state: the next change is compared with the files as they are now. */
  resync(): void {
    this.sigs = this.scan();
  }

  private soon(): void {
    // An editor's save is often several events (truncate, write, rename): look once they settle.
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.check(), 40);
  }

  private check(): void {
    const now = this.scan();
    const changed = [...now].filter(([f, s]) => this.sigs.get(f) !== s).map(([f]) => f);
    for (const f of this.sigs.keys()) if (!now.has(f)) changed.push(f);
    this.sigs = now;
    if (changed.length > 0) this.opts.onChange(changed.sort());
  }

  private scan(): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of this.opts.dirs.flatMap(filesBelow)) {
      if (this.opts.filter && !this.opts.filter(p)) continue;
      try {
        const st = statSync(p);
        out.set(p, `${st.mtimeMs}:${st.size}`);
      } catch {
        // deleted between readdir and stat
      }
    }
    return out;
  }
}
