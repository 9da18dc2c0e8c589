// Where things live around the live data directory: the staged copy and the kept previous one
// sit beside it (same parent, so on the same filesystem: the swap is two renames). Checks on
// the paths and the contents; sizes for the disk-space preflight.
import * as fs from 'fs';
import * as path from 'path';

export { failedDir, previousDir, stagingDir } from '../server-swap/dirs';

/** Files of the live data directory that a backup does not carry and the server (or Debian's
 *  packaging) expects to find: copied into the staged copy when it lacks them. */
export const CARRIED_OVER = [/^debian-[\d.]+\.flag$/, /^mysql_upgrade_info$/];

/** Why `dir` cannot be a --data-dir (its form only): the expected form, or null. */
export function dataDirPathProblem(dir: string): string | null {
  if (!path.isAbsolute(dir) || dir === '/' || path.normalize(dir) !== dir || dir.endsWith('/')) {
    return 'an absolute, normalized path of a directory below / (no "..", ".", doubled or trailing slashes)';
  }
  return null;
}

/** Does a directory with these entries look like a MariaDB data directory? Why not, or null. */
export function notMariadbDatadir(entries: ReadonlySet<string>): string | null {
  if (!entries.has('mysql')) return 'it has no mysql/ (the system schema)';
  if (!entries.has('ibdata1') && !entries.has('aria_log_control')) return 'it has neither ibdata1 nor aria_log_control';
  return null;
}

/** Bytes a directory tree occupies on disk (allocated blocks, so sparse files count as they are). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    let entries: fs.Dirent[];
    try { entries = await fs.promises.readdir(d, { withFileTypes: true }); } catch { continue; }
    for (const e of entries) {
      const p = path.join(d, e.name);
      try {
        const st = await fs.promises.lstat(p);
        total += st.blocks * 512;
        if (e.isDirectory()) stack.push(p);
      } catch { /* gone meanwhile */ }
    }
  }
  return total;
}

export async function existingTreeBytes(dir: string): Promise<number> {
  return fs.existsSync(dir) ? treeBytes(dir) : 0;
}

/** chown -R (never following symlinks) and the top directory's mode. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    await fs.promises.lchown(d, uid, gid);
    for (const e of await fs.promises.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p); else await fs.promises.lchown(p, uid, gid);
    }
  }
}

