// dbcast's own stdout, whatever it is connected to. Node (and libraries: yargs reads
// process.stdout.columns when it loads) turn fd 1 non-blocking as soon as anything touches
// process.stdout on a pipe or socket; after that a plain fs write on fd 1 fails with EAGAIN
// whenever the reader is slower than we are. So nothing here assumes a blocking fd: a pipe or
// socket is written through process.stdout (libuv waits for the reader, 'drain' says when),
// a regular file or device through an fs stream (the thread pool; O_NONBLOCK means nothing
// for files). Children never inherit fd 1 or 2 (pipe-sink.ts forwards theirs), so they never
// see a non-blocking descriptor either.
import * as fs from 'fs';
import type { Writable } from 'stream';

export type StdoutKind = 'file' | 'pipe' | 'socket' | 'tty' | 'device' | 'closed';

export function stdoutKind(): StdoutKind {
  let st: fs.Stats;
  try { st = fs.fstatSync(1); } catch { return 'closed'; }
  if (st.isFile()) return 'file';
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return process.stdout.isTTY ? 'tty' : 'device';
  return 'device';
}

let writer: Writable | null = null;

/** The one writer of fd 1 in this process (created on first use). */
export function stdoutWriter(): Writable {
  if (writer) return writer;
  const kind = stdoutKind();
  writer = kind === 'pipe' || kind === 'socket' || kind === 'tty'
    ? process.stdout
    : fs.createWriteStream('', { fd: 1, autoClose: false });
  return writer;
}

/** A write error on stdout, said the way an operator reads it (no errno soup, no stack). */
export function describeStdoutError(err: NodeJS.ErrnoException): string {
  if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return 'stdout closed by the reader';
  if (err.code === 'ENOSPC') return 'writing stdout failed: no space left on the device';
  return `writing stdout failed: ${err.code ?? ''}${err.code ? ' ' : ''}${err.message}`.trim();
}
