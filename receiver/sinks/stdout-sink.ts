// stdout: the classic pipe (`dbcast receive | pg_restore -d app`). Writing goes through
// runtime/stdio.ts, which copes with whatever fd 1 is (pipe, socket, file) and with it having been
// made non-blocking; a reader that goes away is a failure of this sink, said plainly.
import type { Writable } from 'stream';
import { describeStdoutError, stdoutWriter } from '../../runtime/stdio';
import type { Sink, SinkFailure } from './sink';

export class StdoutSink implements Sink {
  readonly label = 'stdout';
  private readonly stream: Writable = stdoutWriter();
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;

  constructor() {
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (this.failure) return;
      this.failure = { kind: 'stdout', label: this.label, message: describeStdoutError(err), exitCode: -1 };
      this.failureCb?.(this.failure);
    });
  }

  write(chunk: Buffer, written?: () => void): boolean { return this.failure ? true : this.stream.write(chunk, written); }
  onDrain(cb: () => void): void { this.stream.on('drain', cb); }
  onFailure(cb: (f: SinkFailure) => void): void { this.failureCb = cb; }

  async finish(): Promise<SinkFailure | null> {
    if (this.failure) return this.failure;
    // Writes complete in order: once this empty one has, everything before it reached fd 1.
    await new Promise<void>((resolve) => {
      const onError = (): void => resolve();
      this.stream.once('error', onError);
      this.stream.write(Buffer.alloc(0), () => { this.stream.off('error', onError); resolve(); });
    });
    return this.failure;
  }

  async abort(): Promise<void> { /* bytes already on stdout cannot be recalled; the exit code says it */ }
}
