// Several sinks fed the same bytes. A sink that fails drops out and the others go on
// (a failed restore must not stop the archive copy); the slowest live sink sets the pace.
import type { Sink, SinkFailure, Verified } from './sink';

export class Fanout {
  private readonly live = new Set<Sink>();
  private readonly waiting = new Set<Sink>();
  readonly failures: SinkFailure[] = [];

  constructor(readonly sinks: Sink[], onChange: () => void) {
    for (const s of sinks) {
      this.live.add(s);
      s.onDrain(() => { this.waiting.delete(s); onChange(); });
      s.onFailure((f) => {
        this.failures.push(f);
        this.live.delete(s);
        this.waiting.delete(s);
        onChange();
      });
    }
  }

  get ready(): boolean { return this.waiting.size === 0; }
  get anyLive(): boolean { return this.live.size > 0; }

  private pending: Buffer[] = [];

  /** Queue a chunk; flush() hands the queue to the sinks as one write (fewer syscalls). */
  write(chunk: Buffer): void { this.pending.push(chunk); }

  flush(): void {
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    for (const s of this.live) if (!s.write(data)) this.waiting.add(s);
  }

  /** Finish every sink; failures of any sink are returned (and collected). */
  async finish(verified: Verified): Promise<SinkFailure[]> {
    this.flush();
    // Failed sinks finish too: a pipe's exit status is known only once it exited.
    const results = await Promise.all(this.sinks.map((s) => s.finish(verified)));
    for (const f of results) {
      if (!f) continue;
      const i = this.failures.findIndex((x) => x.label === f.label);
      if (i >= 0) this.failures[i] = f; else this.failures.push(f);
    }
    return this.failures;
  }

  async abort(): Promise<void> { await Promise.all(this.sinks.map((s) => s.abort())); }
}
