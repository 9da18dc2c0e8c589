// Directory moves for a whole-server swap: renames within one filesystem (atomic, instant),
// made durable by syncing the parent; removal that never follows a symlink out.
import * as fs from 'fs';
import * as path from 'path';
import { syncDirectory } from '../../../runtime/safe-file';

export async function exists(p: string): Promise<boolean> {
  try { await fs.promises.lstat(p); return true; } catch { return false; }
}

/** rename(2) and a sync of the parent, so that the move survives a crash. */
export async function move(from: string, to: string): Promise<void> {
  await fs.promises.rename(from, to);
  await syncDirectory(path.dirname(to)).catch(() => undefined);
}

/** Remove a directory tree we made (staging, an old .previous). A symlink in its place is refused. */
export async function removeTree(dir: string): Promise<void> {
  let st: fs.Stats;
  try { st = await fs.promises.lstat(dir); } catch { return; }
  if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${dir} is not a directory (refusing to remove it)`);
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/** Free bytes for this user on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const st = fs.statfsSync(dir);
  return st.bavail * st.bsize;
}

export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
