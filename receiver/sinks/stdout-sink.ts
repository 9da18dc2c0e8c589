// stdout, written through an fs stream: process.stdout on a pipe writes synchronously and
// would block the event loop (and with it ACKs and keepalives) behind a slow consumer.
import * as fs from 'fs';
import type { Sink, SinkFailure } from './sink';

export class StdoutSink implements Sink {
  readonly label = 'stdout';
  private readonly stream = fs.createWriteStream('', { fd: 1, autoClose: false });
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;

  constructor() {
    this.stream.on('error', (err) => {
      if (this.failure) return;
      this.failure = { label: this.label, message: `writing stdout failed: ${err.message}`, exitCode: -1 };
      this.failureCb?.(this.failure);
    });
  }

  write(chunk: Buffer): boolean { return this.failure ? true : this.stream.write(chunk); }
  onDrain(cb: () => void): void { this.stream.on('drain', cb); }
  onFailure(cb: (f: SinkFailure) => void): void { this.failureCb = cb; }

  async finish(): Promise<SinkFailure | null> {
    if (this.failure) return this.failure;
    // Everything written so far must have reached the pipe before we report success.
    await new Promise<void>((resolve) => this.stream.write(Buffer.alloc(0), () => resolve()));
    return this.failure;
  }

  async abort(): Promise<void> { /* bytes already on stdout cannot be recalled; the exit code says it */ }
}
