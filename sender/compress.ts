// --compress zstd[:LEVEL]: the dump goes through the `zstd` program (-T0: one worker per core)
// before it is sent, while it is being read. A child process rather than a library: it
// compresses on every core, off our event loop, on every Node version (README "Compression"
// has the measurements that chose it). The plain length is counted here and appended as a
// skippable frame (runtime/zstd-length.ts), so each receiver can check what it decompressed.
import { spawn } from 'child_process';
import { PassThrough } from 'stream';
import { OutputTail } from '../runtime/output-tail';
import { killGroup } from '../runtime/process-group';
import { encodeZstdLength } from '../runtime/zstd-length';
import type { InputResult, InputSource } from './input';

export interface CompressSpec { codec: 'zstd'; level: number }

const STDERR_TAIL_BYTES = 2048;

/** `inner`'s bytes, zstd-compressed; done once inner is done, zstd exited 0 and all was read. */
export function compressedInput(inner: InputSource, spec: CompressSpec, zstdProgram = 'zstd'): InputSource {
  const zstd = spawn(zstdProgram, ['-q', '-c', '-T0', `-${spec.level}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const tail = new OutputTail(STDERR_TAIL_BYTES);
  zstd.stderr.on('data', (c: Buffer) => tail.push(c));
  let plainBytes = 0;
  inner.stream.on('data', (c: Buffer) => { plainBytes += c.length; });
  inner.stream.pipe(zstd.stdin);
  zstd.stdin.on('error', () => { /* zstd died: its exit status says why */ });

  const out = new PassThrough({ highWaterMark: 1 << 20 });
  zstd.stdout.pipe(out, { end: false });
  const zstdDone = new Promise<InputResult>((resolve) => {
    zstd.once('error', (err) => resolve({ ok: false, message: `could not run ${zstdProgram} for --compress: ${err.message}` }));
    zstd.once('close', (code, signal) => {
      if (code === 0) { resolve({ ok: true }); return; }
      const lines = tail.lines(3);
      resolve({ ok: false, message: `${zstdProgram} (--compress) ${signal ? `was killed by ${signal}` : `exited with status ${code}`}${lines ? `: ${lines}` : ''}` });
    });
  });
  const done = (async (): Promise<InputResult> => {
    const first = await Promise.race([inner.done, zstdDone]);
    if (!first.ok) { killGroup(zstd, 'SIGTERM'); inner.stop(); return first; }
    for (const r of await Promise.all([inner.done, zstdDone])) if (!r.ok) { killGroup(zstd, 'SIGTERM'); inner.stop(); return r; }
    // Read to the end, the length frame included: only then is every byte in the session.
    const ended = new Promise<void>((resolve) => out.once('end', resolve));
    out.end(encodeZstdLength(plainBytes));
    await ended;
    return { ok: true };
  })();
  return {
    stream: out,
    done,
    stop: () => { inner.stop(); killGroup(zstd, 'SIGTERM'); },
  };
}
