// --key-file: the pre-shared key for keyed mode. 32 bytes, raw or as 64 hex digits, in a file
// only its owner can read. Problems are local misuse: exit 2 naming the flag.
//
// Whoever can swap the file can swap the key, so the file must be one no other local user can
// steer: not a symlink, owned by the user dbcast runs as (or root), in a directory other users
// cannot write to (or a sticky one like /tmp, where only a file's owner may replace it). The
// checks and the read go through one descriptor, so what was checked is what is read.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KEY_BYTES } from '../protocol';
import { UsageError } from './usage-error';

/** O_NOFOLLOW: a symlink as the last component fails (ELOOP) instead of being followed.
 *  O_NONBLOCK: a FIFO does not block the open (it is then refused as not a regular file). */
export const KEY_FILE_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** 64 hex digits with generous room for whitespace; anything longer is not a key. */
const MAX_KEY_FILE_BYTES = 1024;
/** S_ISVTX: in such a directory only a file's owner may rename or remove it. */
const STICKY_BIT = 0o1000;
const CREATE_HINT = 'create one: head -c 32 /dev/urandom > FILE; chmod 600 FILE';

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(3, '0');
const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

function kind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function userName(uid: number): string {
  try { return os.userInfo().username; } catch { return String(uid); }
}

export function readKeyFile(file: string): Buffer {
  const dir = path.dirname(path.resolve(file));
  let dirSt: fs.Stats;
  try { dirSt = fs.statSync(dir); } catch (err) {
    throw new UsageError('key-file', `a readable key file (${CREATE_HINT})`, `${file}: ${errCode(err)}`);
  }
  if ((dirSt.mode & 0o002) !== 0 && (dirSt.mode & STICKY_BIT) === 0) {
    throw new UsageError('key-file', `a file in a directory other users cannot write to (chmod o-w ${dir}), or a sticky one like /tmp`,
      `${file}: its directory ${dir} has mode ${octal(dirSt.mode)} (any user could replace the key)`);
  }

  let fd: number;
  try { fd = fs.openSync(file, KEY_FILE_FLAGS); } catch (err) {
    if (errCode(err) === 'ELOOP') {
      throw new UsageError('key-file', 'a regular file, not a symbolic link (give the path of the file itself)', `${file} is a symbolic link`);
    }
    throw new UsageError('key-file', `a readable key file (${CREATE_HINT})`, `${file}: ${errCode(err)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UsageError('key-file', 'a regular file', `${file} is ${kind(st)}`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new UsageError('key-file', `a file owned by the user dbcast runs as (chown ${userName(uid)} ${file}) or by root`,
        `${file} is owned by uid ${st.uid}, dbcast runs as uid ${uid}`);
    }
    if ((st.mode & 0o077) !== 0) throw new UsageError('key-file', `a file only its owner can read (chmod 600 ${file})`, `${file} has mode ${octal(st.mode)}`);
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new UsageError('key-file', `${KEY_BYTES} random bytes, or ${KEY_BYTES * 2} hex digits (openssl rand -hex 32)`, `${file}: ${st.size} bytes`);
    }
    // Read from the descriptor just checked; one byte past the limit tells a file that grew.
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const got = fs.readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    try {
      const data = buf.subarray(0, n);
      if (data.length === KEY_BYTES) return Buffer.from(data);
      const text = data.toString('latin1').trim();
      if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
      throw new UsageError('key-file', `${KEY_BYTES} random bytes, or ${KEY_BYTES * 2} hex digits (openssl rand -hex 32)`, `${file}: ${data.length} bytes`);
    } finally {
      buf.fill(0); // the read buffer keeps no copy of the key
    }
  } finally {
    fs.closeSync(fd);
  }
}
