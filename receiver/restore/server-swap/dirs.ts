// Directory moves for a whole-server swap: renames within one filesystem (atomic, instant),
// made durable by syncing the parent; removal that never follows a symlink out.
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_FILE_MODE, syncDirectory, writeFileAtomic } from '../../../runtime/safe-file';

/** Beside the live data directory (same parent, so the swap is two renames on one filesystem):
 *  the copy being staged, the one the last swap replaced, and one that did not come up. */
export const stagingDir = (dataDir: string): string => `${dataDir}.incoming`;
export const previousDir = (dataDir: string): string => `${dataDir}.previous`;
export const failedDir = (dataDir: string): string => `${dataDir}.failed`;

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

/** Sizes in the preflight's messages; below 1 GiB with three decimals so that small gaps show. */
export const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`;

/**
 * Left beside the live directory when a rollback failed: it says where the old and the new data
 * are. While it exists every later run refuses in its preflight, because a run starts by
 * removing `.previous` and `.incoming`, which may then hold the only good copy.
 */
export const rollbackMarker = (live: string): string => `${live}.rollback-failed`;

export function writeRollbackMarker(live: string, whenIso: string, detail: string): void {
  writeFileAtomic(rollbackMarker(live), `${whenIso} ${detail}\n`, REPORT_FILE_MODE);
}

/** Why a run must not touch `live` (a marker of a failed rollback is there), or null. */
export function rollbackMarkerProblem(live: string): string | null {
  const marker = rollbackMarker(live);
  let text: string;
  try { text = fs.readFileSync(marker, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `${marker} exists but cannot be read (${(err as Error).message}): a rollback failed here before; set the server right, then remove it`;
  }
  return `a rollback failed here before and waits for the operator: ${text.trim().slice(0, 300)}; once the server and its data directory are set right (keep the good copy), remove ${marker}`;
}
