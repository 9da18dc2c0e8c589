// Creating files no other local user can steer: a temp file is always new (O_EXCL), never
// reached through a symlink (O_NOFOLLOW), named unguessably, given an exact mode whatever the
// umask, and made only in a directory where other users cannot swap names (not writable by
// others, or sticky like /tmp). rename() and link() never follow a symlink at the destination.
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

/** Dumps: the owner writes, its group (e.g. backup operators) may read, nobody else. */
export const DUMP_FILE_MODE = 0o640;
/** Spools and keys: the owner only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Reports: like dumps (0o640): names, sizes and hashes but no secrets, and monitoring reads them by group. */
export const REPORT_FILE_MODE = DUMP_FILE_MODE;

/** 12 hex digits: nobody can plant the name before we create it. */
const TEMP_RANDOM_BYTES = 6;
const NAME_MAX_BYTES = 255;
/** S_ISVTX: in such a directory only a file's owner may rename or remove it. */
const STICKY_BIT = 0o1000;
/** Like the kernel's ELOOP limit. */
const MAX_SYMLINKS = 40;
/** How createTempFile opens: a new file only, never through a symlink (exported for the tests). */
export const TEMP_FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export class SafeFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafeFileError';
  }
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;
const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** Why another user could replace entries of this directory, or null. */
function othersCanSwap(st: fs.Stats): string | null {
  if ((st.mode & 0o002) === 0 || (st.mode & STICKY_BIT) !== 0) return null;
  return `writable by every user without the sticky bit (mode ${octal(st.mode)}), so another user could replace files in it; ` +
    'expected a directory other users cannot write (chmod o-w) or a sticky one like /tmp (chmod +t)';
}

export function checkDirectory(dir: string): void {
  let st: fs.Stats;
  try { st = fs.statSync(dir); } catch (err) { throw new SafeFileError(`${dir}: expected an existing directory, got ${errCode(err)}`); }
  if (!st.isDirectory()) throw new SafeFileError(`${dir}: expected a directory, got something else (mode ${octal(st.mode)})`);
  const why = othersCanSwap(st);
  if (why) throw new SafeFileError(`${dir}: ${why}`);
}

/** A name that stays in its directory: no /, no NUL, not . or .. (so no .. segment either). */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** Names must fit NAME_MAX with the prefix and suffix; a long base name is shortened. */
function tempName(base: string): string {
  const suffix = `.${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.partial`;
  let head = `.${base}`;
  while (Buffer.byteLength(head + suffix) > NAME_MAX_BYTES) head = head.slice(0, -1);
  return head + suffix;
}

export function createTempFile(finalPath: string, mode: number): { path: string; fd: number } {
  const dir = path.dirname(finalPath);
  checkDirectory(dir);
  const temp = path.join(dir, tempName(path.basename(finalPath)));
  const fd = fs.openSync(temp, TEMP_FILE_FLAGS, mode);
  try {
    fs.fchmodSync(fd, mode); // the umask narrowed the open's mode; set it exactly
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return { path: temp, fd };
}

export function writeFileAtomic(finalPath: string, data: string | Buffer, mode: number): void {
  const temp = createTempFile(finalPath, mode);
  let open = true;
  try {
    fs.writeFileSync(temp.fd, data);
    fs.fsyncSync(temp.fd);
    open = false;
    fs.closeSync(temp.fd);
    fs.renameSync(temp.path, finalPath);
  } catch (err) {
    if (open) fs.closeSync(temp.fd);
    fs.rmSync(temp.path, { force: true });
    throw err;
  }
}

const writeFd = promisify(fs.writeFile);
const fsyncFd = promisify(fs.fsync);
const closeFd = promisify(fs.close);

export async function writeFileAtomicAsync(finalPath: string, data: string | Buffer, mode: number): Promise<void> {
  const temp = createTempFile(finalPath, mode); // open and fchmod are quick: sync is fine here
  let open = true;
  try {
    await writeFd(temp.fd, data);
    await fsyncFd(temp.fd);
    open = false;
    await closeFd(temp.fd);
    await fs.promises.rename(temp.path, finalPath);
  } catch (err) {
    if (open) await closeFd(temp.fd).catch(() => undefined);
    await fs.promises.rm(temp.path, { force: true });
    throw err;
  }
}

/** Make a rename or link in `dir` durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
}

/**
 * At start, before anything is written: `dir` and every directory on the way to it (through
 * symlinks too) pass checkDirectory, so nobody can swap a directory above it; and a symlink in
 * a sticky world-writable directory (/tmp) is followed only if we or that directory's owner
 * own it (the kernel's fs.protected_symlinks rule, checked whatever the sysctl says).
 */
export function checkOutputDirectory(dir: string): void {
  let real: string;
  try { real = walk('/', path.resolve(dir), dir, 0); } catch (err) {
    if (err instanceof SafeFileError) throw err;
    throw new SafeFileError(`${dir}: cannot check the way to it: ${errCode(err)}`);
  }
  checkDirectory(real);
}

/**
 * At start, for a small state file replaced later through writeFileAtomic (seen sessions, the
 * accepted source): its directory passes checkOutputDirectory and this user may create files
 * in it, so a run cannot succeed and then fail to record what it accepted.
 */
export function checkCanReplace(file: string): void {
  const dir = path.dirname(path.resolve(file));
  checkOutputDirectory(dir);
  try { fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK); } catch (err) {
    throw new SafeFileError(`${dir}: expected a directory this user (uid ${process.getuid?.() ?? '?'}) may write, got ${errCode(err)}`);
  }
}

/** Resolves `rel` from the real directory `from` component by component, checking each step. */
function walk(from: string, rel: string, given: string, links: number): string {
  const me = process.getuid?.() ?? -1;
  let cur = path.isAbsolute(rel) ? '/' : from;
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') { cur = path.dirname(cur); continue; }
    const parent = fs.statSync(cur);
    const why = othersCanSwap(parent);
    if (why) throw new SafeFileError(`${cur} (on the way to ${given}): ${why}`);
    const next = path.join(cur, part);
    let st: fs.Stats;
    try { st = fs.lstatSync(next); } catch (err) { throw new SafeFileError(`${given}: expected an existing directory, got ${errCode(err)} at ${next}`); }
    if (!st.isSymbolicLink()) { cur = next; continue; }
    if (links >= MAX_SYMLINKS) throw new SafeFileError(`${given}: more than ${MAX_SYMLINKS} symlinks on the way`);
    const stickyShared = (parent.mode & 0o002) !== 0 && (parent.mode & STICKY_BIT) !== 0;
    if (stickyShared && st.uid !== me && st.uid !== parent.uid) {
      throw new SafeFileError(`${next} (on the way to ${given}): a symlink owned by uid ${st.uid} in the shared directory ${cur}, so that user chooses where it leads; expected a path without it`);
    }
    cur = walk(cur, fs.readlinkSync(next), given, links + 1);
  }
  return cur;
}

/** Close a file descriptor through the write stream over it. A stream's destroy() closes its
 *  fd even with autoClose false, so closing the fd again as well fails with EBADF, or closes
 *  whatever has reused the number in between. */
export function closeThroughStream(stream: fs.WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => { stream.once('close', () => resolve()); stream.destroy(); });
}
