// --output FILE: written as FILE.partial, fsynced, renamed into place only once verified.
import * as fs from 'fs';
import * as path from 'path';
import type { Sink, SinkFailure, Verified } from './sink';

export class FileSink implements Sink {
  readonly label: string;
  private readonly partial: string;
  private readonly stream: fs.WriteStream | null = null;
  private readonly fd: number | null = null;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private fdClosed = false;
  private finalized = false;

  /** exclusive: never replace an existing file (archives); else like a shell's `>`. */
  constructor(protected readonly finalPath: string, private readonly exclusive = false) {
    this.label = `--output ${finalPath}`;
    this.partial = `${finalPath}.partial`;
    try {
      if (exclusive && fs.existsSync(finalPath)) throw new Error(`${finalPath} already exists`);
      this.fd = fs.openSync(this.partial, exclusive ? 'wx' : 'w', 0o640);
      this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
      this.stream.on('error', (err) => this.fail(`writing ${this.partial} failed: ${err.message}`));
    } catch (err) {
      this.failure = { label: this.label, message: `cannot write ${finalPath}: ${(err as Error).message}`, exitCode: -1 };
    }
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = { label: this.label, message, exitCode: -1 };
    this.failureCb?.(this.failure);
  }

  write(chunk: Buffer): boolean { return this.failure || !this.stream ? true : this.stream.write(chunk); }
  onDrain(cb: () => void): void { this.stream?.on('drain', cb); }
  onFailure(cb: (f: SinkFailure) => void): void {
    this.failureCb = cb;
    const early = this.failure;
    if (early) setImmediate(() => cb(early));
  }

  async finish(_verified: Verified): Promise<SinkFailure | null> {
    const stream = this.stream; const fd = this.fd;
    if (this.failure || !stream || fd === null) { await this.abort(); return this.failure; }
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('error', reject);
        stream.end(() => resolve());
      });
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
      this.fdClosed = true;
      await new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
      if (this.exclusive) { await fs.promises.link(this.partial, this.finalPath); await fs.promises.rm(this.partial); }
      else await fs.promises.rename(this.partial, this.finalPath);
      this.finalized = true;
      await syncDirectory(path.dirname(this.finalPath));
      return null;
    } catch (err) {
      this.fail(`finishing ${this.finalPath} failed: ${(err as Error).message}`);
      await this.abort();
      return this.failure;
    }
  }

  async abort(): Promise<void> {
    if (this.finalized) return;
    this.stream?.destroy();
    const fd = this.fd;
    if (fd !== null && !this.fdClosed) { this.fdClosed = true; await new Promise<void>((resolve) => fs.close(fd, () => resolve())); }
    if (fd !== null) await fs.promises.rm(this.partial, { force: true }); // only a partial file we created
  }
}

/** Make a rename durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
}
