// --compress zstd[:LEVEL]: the dump goes through the `zstd` program (-T0: one worker per core)
// before it is sent, while it is being read. A child process rather than a library: it
// compresses on every core, off our event loop, on every Node version (README "Compression"
// has the measurements that chose it). zstd reads the dump itself where it can (the dump
// command's output, or stdin when it is a file): the plain bytes never pass through Node. Its
// summary line (-vv) gives the exact plain length, appended as a skippable frame
// (runtime/zstd-length.ts) so each receiver can check what it decompressed.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { PassThrough } from 'stream';
import { OutputTail } from '../runtime/output-tail';
import { killGroup } from '../runtime/process-group';
import { encodeZstdLength } from '../runtime/zstd-length';
import type { InputResult, InputSource } from './input';

export interface CompressSpec { codec: 'zstd'; level: number }

const STDERR_TAIL_BYTES = 2048;
/** zstd -vv's last line: "/*stdin*\ : 16.73%   (20000000 B => 3345408 B, /*stdout*\)". */
const ZSTD_SUMMARY = /\((\d+) B => \d+ B,/;

type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: string };
const exitOf = (child: ChildProcess): Promise<Exit> => new Promise((resolve) => {
  child.once('error', (err) => resolve({ code: null, signal: null, error: err.message }));
  // 'close' comes after the exit and after its output ended.
  child.once('close', (code, signal) => resolve({ code, signal }));
});
const how = (e: Exit): string => (e.error !== undefined ? `could not be run: ${e.error}` : e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`);

function stdinIsFile(): boolean {
  try { return fs.fstatSync(0).isFile(); } catch { return false; }
}

/** The dump (of `command`, else stdin), zstd-compressed. Done once the dump command (if
 *  any) and zstd exited 0 and every byte, the length frame included, was read. */
export function compressedInput(command: string | undefined, spec: CompressSpec, onStderr: (chunk: Buffer) => void, zstdProgram = 'zstd'): InputSource {
  const args = ['-vv', '-c', '-T0', `-${spec.level}`];
  // A file on stdin is read by zstd directly; a pipe or terminal is not handed over, since
  // Node may have made it non-blocking and zstd would fail on EAGAIN.
  const direct = command === undefined && stdinIsFile();
  const zstd = spawn(zstdProgram, args, { stdio: [direct ? 0 : 'pipe', 'pipe', 'pipe'], detached: true });
  const zstdTail = new OutputTail(STDERR_TAIL_BYTES);
  zstd.stderr?.on('data', (c: Buffer) => zstdTail.push(c));
  const zstdExit = exitOf(zstd);

  let dump: ChildProcess | null = null;
  let dumpDone: Promise<InputResult> = Promise.resolve({ ok: true });
  if (command !== undefined && zstd.stdin) {
    // The dump writes straight into zstd: our copy of that pipe closes, so zstd sees the end.
    dump = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', zstd.stdin, 'pipe'], detached: true });
    zstd.stdin.destroy();
    const tail = new OutputTail(STDERR_TAIL_BYTES);
    dump.stderr?.on('data', (c: Buffer) => { onStderr(c); tail.push(c); });
    dumpDone = exitOf(dump).then((e) => {
      if (e.code === 0) return { ok: true };
      const lines = tail.lines(3);
      return { ok: false, message: e.error !== undefined ? `could not run --command: ${e.error}` : `--command ${how(e)}${lines ? `: ${lines}` : ''}` };
    });
  } else if (!direct && zstd.stdin) {
    const stdin = process.stdin;
    dumpDone = new Promise((resolve) => {
      stdin.once('end', () => resolve({ ok: true }));
      stdin.once('error', (err) => resolve({ ok: false, message: `reading stdin failed: ${err.message}` }));
    });
    stdin.pipe(zstd.stdin);
    zstd.stdin.on('error', () => { /* zstd died: its exit status says why */ });
  }

  const out = new PassThrough({ highWaterMark: 1 << 20 });
  zstd.stdout?.pipe(out, { end: false });
  const zstdDone = zstdExit.then((e): InputResult => {
    if (e.code !== 0) {
      const lines = zstdTail.lines(2);
      return { ok: false, message: `${zstdProgram} (--compress) ${how(e)}${lines ? `: ${lines}` : ''}` };
    }
    return { ok: true };
  });
  const stopAll = (): void => {
    if (dump) killGroup(dump, 'SIGTERM');
    killGroup(zstd, 'SIGTERM');
    if (!direct && !command) process.stdin.destroy();
  };
  const done = (async (): Promise<InputResult> => {
    const first = await Promise.race([dumpDone, zstdDone]);
    if (!first.ok) { stopAll(); return first; }
    for (const r of await Promise.all([dumpDone, zstdDone])) if (!r.ok) { stopAll(); return r; }
    const m = ZSTD_SUMMARY.exec(zstdTail.lines(3));
    if (!m) return { ok: false, message: `${zstdProgram} (--compress) did not say how long the dump was: ${zstdTail.lines(2)}` };
    // Read to the end, the length frame included: only then is every byte in the session.
    const ended = new Promise<void>((resolve) => out.once('end', resolve));
    out.end(encodeZstdLength(Number(m[1])));
    await ended;
    return { ok: true };
  })();
  return { stream: out, done, stop: stopAll };
}
