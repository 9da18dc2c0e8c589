// A tar stream → files in a private staging directory, as it arrives. Every header is checked
// (tar-header.ts, then the caller's policy) before anything it names is created; files are
// created exclusively and never through a symlink (none is ever created here), so the stream
// can name nothing outside the directory. Writes are queued in order; write() says when to
// pause (the receiver's flow control then slows the sender).
import * as fs from 'fs';
import * as path from 'path';
import { paddingBytes, parseTarHeader, TAR_BLOCK_BYTES, type TarEntry } from './tar-header';

/** Queued, not yet written bytes above which write() asks the caller to pause. */
const HIGH_WATER_BYTES = 16 << 20;
/** File data is written in batches of about this size. */
const BATCH_BYTES = 1 << 20;
/** Small files whose contents the policy sees (PG_VERSION, backup_label, ...). */
const MAX_WATCHED_BYTES = 64 * 1024;
const FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export interface ExtractPolicy {
  /** Why this entry is refused, or null. Called before anything it names is created. */
  refuse(entry: TarEntry): string | null;
  /** Files whose whole contents the policy wants to see once written. */
  watch(entry: TarEntry): boolean;
  /** A watched file is complete: why the stream is refused, or null. */
  contents(entry: TarEntry, data: Buffer): string | null;
}

export interface ExtractSummary { files: number; directories: number; dataBytes: number; paths: Set<string> }

type State = 'header' | 'data' | 'padding' | 'end';

export class TarExtractor {
  failure: string | null = null;
  private state: State = 'header';
  private header: Buffer = Buffer.alloc(0);
  private entry: TarEntry | null = null;
  private leftBytes = 0;
  private watched: Buffer[] | null = null;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private file: Promise<fs.promises.FileHandle | null> = Promise.resolve(null);
  private queue: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private drainCb: (() => void) | null = null;
  private failureCb: ((m: string) => void) | null = null;
  readonly summary: ExtractSummary = { files: 0, directories: 0, dataBytes: 0, paths: new Set() };

  /** owner: chown what is created (when running as root for another owner). */
  constructor(private readonly root: string, private readonly policy: ExtractPolicy, private readonly owner: { uid: number; gid: number } | null) {}

  onDrain(cb: () => void): void { this.drainCb = cb; }
  onFailure(cb: (m: string) => void): void { this.failureCb = cb; }

  get complete(): boolean { return this.state === 'end'; }

  fail(message: string): void {
    if (this.failure) return;
    this.failure = message;
    this.batch = [];
    this.failureCb?.(message);
  }

  write(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length && !this.failure) {
      switch (this.state) {
        case 'header': {
          const need = TAR_BLOCK_BYTES - this.header.length;
          const take = chunk.subarray(at, at + need);
          at += take.length;
          this.header = this.header.length === 0 && take.length === TAR_BLOCK_BYTES ? take : Buffer.concat([this.header, take]);
          if (this.header.length === TAR_BLOCK_BYTES) { const h = this.header; this.header = Buffer.alloc(0); this.onHeader(h); }
          break;
        }
        case 'data': {
          const take = chunk.subarray(at, at + Math.min(this.leftBytes, chunk.length - at));
          at += take.length;
          this.leftBytes -= take.length;
          this.onData(take);
          if (this.leftBytes === 0) this.endEntry();
          break;
        }
        case 'padding': {
          const n = Math.min(this.leftBytes, chunk.length - at);
          at += n; this.leftBytes -= n;
          if (this.leftBytes === 0) this.state = 'header';
          break;
        }
        case 'end': {
          // After the end-of-archive block only zero padding may follow: anything else is a second
          // archive (a tablespace's, pg_wal.tar) that would otherwise be silently ignored.
          const rest = chunk.subarray(at);
          if (rest.some((b) => b !== 0)) this.fail('data follows the end of the tar archive (a second archive, e.g. another tablespace or pg_wal.tar?): only a single base.tar can be restored');
          at = chunk.length;
          break;
        }
      }
    }
    return this.queuedBytes < HIGH_WATER_BYTES;
  }

  /** The stream ended (verified): every write done and the archive was complete. */
  async end(): Promise<string | null> {
    this.flushBatch();
    await this.queue;
    await this.closeFile();
    if (this.failure) return this.failure;
    if (this.state !== 'end') {
      this.fail(this.entry ? `the tar stream ends inside ${this.entry.path}` : 'the tar stream ends without its end-of-archive block');
    }
    return this.failure;
  }

  /** Stop: wait for the writes in flight, close the open file. */
  async stop(): Promise<void> {
    this.fail(this.failure ?? 'stopped');
    await this.queue;
    await this.closeFile();
  }

  private onHeader(block: Buffer): void {
    const h = parseTarHeader(block);
    if (!h.ok) { this.fail(`the stream was refused: ${h.reason}`); return; }
    if (h.entry === null) { this.state = 'end'; return; }
    const e = h.entry;
    const why = this.policy.refuse(e);
    if (why) { this.fail(`the stream was refused: ${why}`); return; }
    this.entry = e;
    const target = path.join(this.root, e.path);
    if (e.type === 'directory') {
      this.summary.directories++;
      this.summary.paths.add(e.path);
      if (e.path !== '') this.enqueue(0, async () => { await this.mkdir(target, (e.mode & 0o750) | 0o700); });
      this.afterData(e.sizeBytes);
      return;
    }
    // Only regular files reach here (the policy refuses the rest).
    this.summary.files++;
    this.summary.paths.add(e.path);
    this.watched = this.policy.watch(e) && e.sizeBytes <= MAX_WATCHED_BYTES ? [] : null;
    const mode = (e.mode & 0o640) | 0o600;
    this.file = new Promise((resolve) => {
      this.enqueue(0, async () => {
        await this.mkdir(path.dirname(target), 0o700);
        const fh = await fs.promises.open(target, FILE_FLAGS, mode);
        if (this.owner) await fh.chown(this.owner.uid, this.owner.gid);
        resolve(fh);
      }, () => resolve(null));
    });
    if (e.sizeBytes === 0) this.endEntry(); else { this.state = 'data'; this.leftBytes = e.sizeBytes; }
  }

  private onData(piece: Buffer): void {
    this.summary.dataBytes += piece.length;
    this.watched?.push(piece);
    this.batch.push(piece);
    this.batchBytes += piece.length;
    if (this.batchBytes >= BATCH_BYTES) this.flushBatch();
  }

  private endEntry(): void {
    const e = this.entry as TarEntry;
    this.flushBatch();
    const file = this.file;
    this.enqueue(0, async () => { const fh = await file; await fh?.close(); });
    this.file = Promise.resolve(null);
    if (this.watched) {
      const why = this.policy.contents(e, Buffer.concat(this.watched));
      this.watched = null;
      if (why) { this.fail(`the stream was refused: ${why}`); return; }
    }
    this.entry = null;
    this.afterData(e.sizeBytes);
  }

  private afterData(size: number): void {
    const pad = paddingBytes(size);
    if (pad > 0) { this.state = 'padding'; this.leftBytes = pad; } else this.state = 'header';
  }

  private flushBatch(): void {
    if (this.batchBytes === 0 || this.failure) { this.batch = []; this.batchBytes = 0; return; }
    const bufs = this.batch; const n = this.batchBytes;
    this.batch = []; this.batchBytes = 0;
    const file = this.file;
    this.enqueue(n, async () => {
      const fh = await file;
      if (!fh) return;
      let off = 0;
      while (off < n) {
        const { bytesWritten } = await fh.writev(off === 0 ? bufs : [Buffer.concat(bufs).subarray(off)]);
        off += bytesWritten;
      }
    });
  }

  private async mkdir(dir: string, mode: number): Promise<void> {
    if (dir === this.root) return;
    const created = await fs.promises.mkdir(dir, { recursive: true, mode });
    if (created !== undefined && this.owner) {
      // mkdir -p made every missing level from `created` down to `dir`
      for (let d = dir; d.length >= created.length; d = path.dirname(d)) await fs.promises.lchown(d, this.owner.uid, this.owner.gid);
    }
  }

  private enqueue(bytes: number, op: () => Promise<void>, onSkip?: () => void): void {
    this.queuedBytes += bytes;
    this.queue = this.queue.then(async () => {
      try {
        if (this.failure) { onSkip?.(); return; }
        await op();
      } catch (err) {
        onSkip?.();
        this.fail(`extracting into ${this.root} failed: ${(err as Error).message}`);
      } finally {
        const before = this.queuedBytes;
        this.queuedBytes -= bytes;
        if (before >= HIGH_WATER_BYTES && this.queuedBytes < HIGH_WATER_BYTES) this.drainCb?.();
      }
    });
  }

  private async closeFile(): Promise<void> {
    const fh = await this.file;
    this.file = Promise.resolve(null);
    await fh?.close().catch(() => undefined);
  }
}
