// --output FILE: written to a new temp file beside it (.FILE.<random>.partial, see
// runtime/safe-file.ts), fsynced, renamed into place only once verified.
import * as fs from 'fs';
import * as path from 'path';
import { closeThroughStream, createTempFile, DUMP_FILE_MODE, syncDirectory } from '../../runtime/safe-file';
import type { Sink, SinkFailure, SinkKind, Verified } from './sink';

export class FileSink implements Sink {
  readonly label: string;
  /** The temp file we created, or null: abort() removes nothing else. */
  private readonly partial: string | null = null;
  private readonly stream: fs.WriteStream | null = null;
  private readonly fd: number | null = null;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private fdClosed = false;
  private finalized = false;

  /**
   * exclusive: never replace an existing file (archives); else like a shell's `>`.
   * refusal: a reason not to write at all (the sink fails at once, nothing is created).
   */
  constructor(protected readonly finalPath: string, private readonly exclusive = false, refusal: string | null = null, protected readonly kind: SinkKind = 'output') {
    this.label = `--output ${finalPath}`;
    try {
      if (refusal !== null) throw new Error(refusal);
      if (exclusive && fs.existsSync(finalPath)) throw new Error(`${finalPath} already exists`);
      const temp = createTempFile(finalPath, DUMP_FILE_MODE);
      this.partial = temp.path;
      this.fd = temp.fd;
      this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
      this.stream.on('error', (err) => this.fail(`writing ${temp.path} failed: ${err.message}`));
    } catch (err) {
      this.failure = { kind, label: this.label, message: `cannot write ${finalPath}: ${(err as Error).message}`, exitCode: -1 };
    }
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = { kind: this.kind, label: this.label, message, exitCode: -1 };
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
    const stream = this.stream; const fd = this.fd; const partial = this.partial;
    if (this.failure || !stream || fd === null || partial === null) { await this.abort(); return this.failure; }
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('error', reject);
        stream.end(() => resolve());
      });
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
      this.fdClosed = true;
      await new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
      // Neither follows a symlink at finalPath; link fails if anything is there.
      if (this.exclusive) { await fs.promises.link(partial, this.finalPath); await fs.promises.rm(partial); }
      else await fs.promises.rename(partial, this.finalPath);
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
    const fd = this.fd;
    if (fd !== null && !this.fdClosed) {
      this.fdClosed = true;
      if (this.stream) await closeThroughStream(this.stream);
      else await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
    if (this.partial !== null) await fs.promises.rm(this.partial, { force: true }); // only the temp file we created
  }
}
