// A compressed stream (ANNOUNCE info `compression: 'zstd'`) in front of the sinks. While the
// stream arrives, `zstd -d` decompresses it into a spool file (0600) itself, checking its frame
// checksums and saying how long the result is; files that keep the stream as sent (--store
// compressed) are written as usual. Once the session verified the SHA-256 of what was sent, the
// check must also pass (zstd exited 0, the length the sender appended matched) before anything
// else happens: then the spool is fed to the sinks that take plain bytes (files, restore
// presets, --pipe, stdout). A check that fails is a hash failure: every sink is aborted,
// nothing gets a final name, no restore runs and --pipe/stdout got nothing.
// The plain spool costs the dump's size on disk; in return no plain byte passes through this
// process while receiving, and the dump is decompressed once.
import { spawn, type ChildProcess } from 'child_process';
import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { nowMs } from '../runtime/clock';
import { OutputTail } from '../runtime/output-tail';
import { killGroup } from '../runtime/process-group';
import { createTempFile, PRIVATE_FILE_MODE } from '../runtime/safe-file';
import { decodeZstdLength, ZSTD_LENGTH_FRAME_BYTES } from '../runtime/zstd-length';
import { Fanout } from './sinks/fanout';
import type { Sink, SinkFailure, Verified } from './sinks/sink';

const STDERR_TAIL_BYTES = 2048;
/** zstd -v's last line when decompressing: "/*stdin*\           : 20000000 bytes". */
const ZSTD_DECODED = /: (\d+) bytes\s*$/;

interface SpoolFile { path: string; fd: number }

/** The check: `zstd -d` fed the stream as it arrives, writing the plain spool when plain
 *  sinks need it (else `zstd -t`, testing only). */
class ZstdCheck implements Sink {
  readonly label = 'zstd decompression check';
  plainBytes = 0;
  /** Set when zstd failed before the end: the stream is corrupt whatever its SHA-256 says. */
  private corrupt: string | null = null;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: string }>;
  private readonly stderr = new OutputTail(STDERR_TAIL_BYTES);
  private tail = Buffer.alloc(0);
  private ending = false;
  private removed = false;

  constructor(readonly spool: SpoolFile | null, private readonly zstdProgram: string) {
    this.child = spawn(zstdProgram, spool ? ['-v', '-d', '-c'] : ['-v', '-t'], { stdio: ['pipe', spool ? spool.fd : 'ignore', 'pipe'], detached: true });
    this.child.stderr?.on('data', (c: Buffer) => this.stderr.push(c));
    this.child.stdin?.on('error', () => { /* zstd exited: its status says why */ });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => resolve({ code: null, signal: null, error: err.message }));
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    void this.exited.then((r) => { if (!this.ending) this.corrupt = this.describe(r); });
  }

  private describe(r: { code: number | null; signal: NodeJS.Signals | null; error?: string }): string | null {
    if (r.error !== undefined) return `could not run ${this.zstdProgram} to decompress: ${r.error}`;
    if (r.code === 0) return null;
    const lines = this.stderr.lines(2);
    return `the compressed stream does not decompress (zstd ${r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`}${lines ? `: ${lines}` : ''})`;
  }

  fail(message: string): void {
    if (this.failure) return;
    this.failure = { kind: 'output', label: this.label, message, exitCode: -1 };
    this.failureCb?.(this.failure);
  }

  write(chunk: Buffer): boolean {
    if (this.failure || this.corrupt) return true;
    this.tail = chunk.length >= ZSTD_LENGTH_FRAME_BYTES
      ? Buffer.from(chunk.subarray(chunk.length - ZSTD_LENGTH_FRAME_BYTES))
      : Buffer.concat([this.tail, chunk]).subarray(-ZSTD_LENGTH_FRAME_BYTES);
    return this.child.stdin?.write(chunk) ?? true;
  }
  onDrain(cb: () => void): void { this.child.stdin?.on('drain', cb); }
  onFailure(cb: (f: SinkFailure) => void): void { this.failureCb = cb; }

  /** After the SHA-256 matched: corrupt = why the stream is not a whole zstd stream of the
   *  announced length (a hash failure); failure = a local problem (the spool's disk). */
  async check(): Promise<{ corrupt: string | null; failure: SinkFailure | null }> {
    this.ending = true;
    this.child.stdin?.end();
    const exit = await this.exited;
    let corrupt = this.corrupt ?? this.describe(exit) ?? this.lengthProblem();
    if (corrupt !== null && /Write error|No space left/i.test(this.stderr.lines(3))) {
      // The spool's disk, not the stream: a local failure.
      this.fail(`decompressing into ${this.spool?.path ?? 'the spool'} failed: ${this.stderr.lines(2)}`);
      corrupt = null;
    }
    if (corrupt === null && this.spool && !this.failure) {
      const fd = this.spool.fd;
      try { await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve()))); } catch (err) { this.fail(`the spool ${this.spool.path}: ${(err as Error).message}`); }
    }
    return { corrupt, failure: this.failure };
  }

  private lengthProblem(): string | null {
    const announced = decodeZstdLength(this.tail);
    if (announced === null) return 'the compressed stream has no length frame at its end (cut short?)';
    const m = ZSTD_DECODED.exec(this.stderr.lines(1));
    if (!m) return `${this.zstdProgram} did not say how long the stream decompressed: ${this.stderr.lines(2)}`;
    this.plainBytes = Number(m[1]);
    if (announced !== this.plainBytes) return `the compressed stream decompressed to ${this.plainBytes} bytes, the sender announced ${announced}`;
    return null;
  }

  async finish(): Promise<SinkFailure | null> { await this.abort(); return this.failure; }

  async abort(): Promise<void> {
    this.ending = true;
    killGroup(this.child, 'SIGTERM');
    await this.exited;
    if (this.spool && !this.removed) {
      this.removed = true;
      fs.closeSync(this.spool.fd);
      await fs.promises.rm(this.spool.path, { force: true });
    }
  }
}

/** The sinks behind a compressed stream, used by run-receive.ts like a Fanout. */
export class DecompressingFanout {
  /** Why the stream did not decompress although its SHA-256 matched: a hash failure. */
  decompressFailure: string | null = null;
  /** Plain bytes handed to the sinks, once finished. */
  plainBytes = 0;
  private readonly check: ZstdCheck;
  private readonly raw: Fanout;
  private readonly plain: Fanout | null;
  private onPlainReady: (() => void) | null = null;

  /**
   * rawSinks keep the stream as sent; plainSinks get it decompressed, after the check.
   * spoolDir: where the decompressed stream waits for the plain sinks.
   */
  constructor(private readonly rawSinks: Sink[], private readonly plainSinks: Sink[], spoolDir: string, spoolName: string,
    onChange: () => void, private readonly zstdProgram = 'zstd') {
    let spool: SpoolFile | null = null;
    let spoolError: string | null = null;
    if (plainSinks.length > 0) {
      try { spool = createTempFile(path.join(spoolDir, spoolName), PRIVATE_FILE_MODE); } catch (err) { spoolError = `cannot spool the decompressed stream in ${spoolDir}: ${(err as Error).message}`; }
    }
    this.check = new ZstdCheck(spool, zstdProgram);
    this.raw = new Fanout([...rawSinks, this.check], onChange);
    this.plain = plainSinks.length ? new Fanout(plainSinks, () => { this.onPlainReady?.(); onChange(); }) : null;
    if (spoolError !== null) { const m = spoolError; setImmediate(() => this.check.fail(m)); }
  }

  get sinks(): Sink[] { return [...this.rawSinks, ...this.plainSinks]; }
  get ready(): boolean { return this.raw.ready; }
  get failures(): SinkFailure[] { return [...this.raw.failures, ...(this.plain?.failures ?? [])]; }
  failed(s: Sink): boolean { return this.raw.failed(s) || (this.plain?.failed(s) ?? false); }
  get anyLive(): boolean {
    return this.rawSinks.some((s) => !this.raw.failed(s)) || (!this.raw.failed(this.check) && (this.plain?.anyLive ?? false));
  }
  write(chunk: Buffer, now: number): void { this.raw.write(chunk, now); }
  flushDueInMs(now: number): number { return this.raw.flushDueInMs(now); }
  flush(now: number, force = false): void { this.raw.flush(now, force); }

  async finish(verified: Verified): Promise<SinkFailure[]> {
    this.raw.flush(0, true);
    const { corrupt, failure } = await this.check.check();
    if (corrupt !== null) {
      this.decompressFailure = corrupt;
      await this.abort();
      return [];
    }
    let plainFailures: SinkFailure[] = [];
    if (this.plain && this.check.spool && !failure) {
      const r = await this.replay(this.check.spool.path, this.plain);
      if (r.problem !== null) {
        // Written and fsynced, then not read back whole: this host's disk, not the sender.
        await this.plain.abort();
        plainFailures = [{ kind: 'output', label: this.check.label, message: r.problem, exitCode: -1 }];
      } else {
        this.plainBytes = r.bytes;
        plainFailures = await this.plain.finish({ sha256: r.sha256, bytes: r.bytes });
      }
    } else if (this.plain) {
      await this.plain.abort();
    }
    const rawFailures = await this.raw.finish(verified);
    return [...rawFailures, ...plainFailures];
  }

  async abort(): Promise<void> {
    await Promise.all([this.raw.abort(), this.plain?.abort()]);
  }

  /** The verified spool into the plain sinks, at the pace of the slowest. */
  private replay(spoolPath: string, plain: Fanout): Promise<{ problem: string | null; bytes: number; sha256: string }> {
    const hash: Hash | null = this.plainSinks.some((s) => s.label.startsWith('--output')) ? createHash('sha256') : null;
    const file = fs.createReadStream(spoolPath, { highWaterMark: 1 << 20 });
    let bytes = 0;
    this.onPlainReady = () => { if (plain.ready) file.resume(); };
    file.on('data', (c: Buffer | string) => {
      const b = c as Buffer;
      bytes += b.length;
      hash?.update(b);
      plain.write(b, nowMs());
      plain.flush(nowMs());
      if (!plain.ready) file.pause();
    });
    return new Promise((resolve) => {
      file.once('error', (err) => { this.onPlainReady = null; resolve({ problem: `reading the spool ${spoolPath} failed: ${err.message}`, bytes, sha256: '' }); });
      file.once('end', () => {
        this.onPlainReady = null;
        const sha256 = hash ? hash.digest('hex') : '';
        if (bytes !== this.check.plainBytes) resolve({ problem: `the spool ${spoolPath} holds ${bytes} bytes, zstd wrote ${this.check.plainBytes}`, bytes, sha256 });
        else resolve({ problem: null, bytes, sha256 });
      });
    });
  }
}
