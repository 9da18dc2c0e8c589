// The stream on local disk until it is verified: the restore presets' default. Created
// exclusively with mode 0600 (runtime/safe-file.ts), fsynced before anything reads it back, removed
// whatever happens.
import * as fs from 'fs';
import * as path from 'path';
import { PRIVATE_FILE_MODE, closeThroughStream, createTempFile } from '../../runtime/safe-file';

/** Why the spool cannot go in `dir` (checked by the presets' preflights), or null. */
export function spoolDirProblem(dir: string): string | null {
  try { fs.accessSync(dir, fs.constants.W_OK); } catch { return `--spool-dir ${dir} is not a writable directory`; }
  return null;
}

export class Spool {
  readonly path: string;
  private readonly fd: number;
  private readonly stream: fs.WriteStream;
  private closed = false;
  private errorCb: ((message: string) => void) | null = null;
  failure: string | null = null;

  /** Throws (SafeFileError or an fs error) when the file cannot be created. */
  constructor(dir: string, name: string) {
    const f = createTempFile(path.join(dir, `${name}.spool`), PRIVATE_FILE_MODE);
    this.path = f.path;
    this.fd = f.fd;
    this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
    this.stream.on('error', (err) => {
      if (this.failure) return;
      this.failure = `spooling to ${this.path} failed: ${err.message}`;
      this.errorCb?.(this.failure);
    });
  }

  onError(cb: (message: string) => void): void { this.errorCb = cb; }
  onDrain(cb: () => void): void { this.stream.on('drain', cb); }
  write(chunk: Buffer): boolean { return this.failure || this.closed ? true : this.stream.write(chunk); }

  /** Every byte on disk (fsync) before the restore reads it back. */
  async complete(): Promise<void> {
    if (this.failure) throw new Error(this.failure);
    await new Promise<void>((resolve, reject) => { this.stream.once('error', reject); this.stream.end(() => resolve()); });
    await new Promise<void>((resolve, reject) => fs.fsync(this.fd, (e) => (e ? reject(e) : resolve())));
    await this.close();
  }

  read(): fs.ReadStream { return fs.createReadStream(this.path, { highWaterMark: 1 << 20 }); }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeThroughStream(this.stream);
  }

  async remove(): Promise<void> {
    await this.close();
    await fs.promises.rm(this.path, { force: true });
  }
}
