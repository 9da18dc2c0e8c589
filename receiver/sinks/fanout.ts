// Several sinks fed the same bytes. A sink that fails drops out and the others go on
// (a failed restore must not stop the archive copy); the slowest live sink sets the pace.
import type { Sink, SinkFailure, Verified } from './sink';

/** Writes are gathered up to this size... */
const FLUSH_BYTES = 512 * 1024;
/** ...or this age, so a slow trickle still reaches the sinks promptly. */
const FLUSH_AFTER_MS = 20;
/** Gather buffers every sink has written, kept to be filled again. */
const MAX_SPARE_BUFFERS = 4;

export class Fanout {
  private readonly live = new Set<Sink>();
  private readonly waiting = new Set<Sink>();
  /** In the order the sinks failed. */
  private readonly failureOf = new Map<Sink, SinkFailure>();

  constructor(readonly sinks: Sink[], onChange: () => void) {
    for (const s of sinks) {
      this.live.add(s);
      s.onDrain(() => { this.waiting.delete(s); onChange(); });
      s.onFailure((f) => {
        this.failureOf.set(s, f);
        this.live.delete(s);
        this.waiting.delete(s);
        onChange();
      });
    }
  }

  get ready(): boolean { return this.waiting.size === 0; }
  get failures(): SinkFailure[] { return [...this.failureOf.values()]; }
  failed(s: Sink): boolean { return this.failureOf.has(s); }
  get anyLive(): boolean { return this.live.size > 0; }

  // Chunks are copied into one buffer as they come rather than kept and concatenated at flush:
  // a chunk is a slice of the datagram Node allocated for it, and holding hundreds of those
  // until the flush made them survive garbage collections (copying at once took a receiver's
  // user CPU from 1.93 to 1.70 s per 256 MiB at MTU 1500). The copy is the one concat did.
  // Buffers go back to `spare` once every sink said it wrote them: filling memory the process
  // never touched costs a page fault per 4 KiB (a fresh 512 KiB buffer per flush was 18 times
  // the cost of refilling one in a microbenchmark).
  private gather: Buffer | null = null;
  private readonly spare: Buffer[] = [];
  private gatherBytes = 0;
  private pendingSinceMs = 0;

  /** Queue a chunk; flush() hands the queue to the sinks as one write. */
  write(chunk: Buffer, nowMs: number): void {
    let done = 0;
    while (done < chunk.length) {
      if (this.gather === null) this.gather = this.spare.pop() ?? Buffer.allocUnsafeSlow(FLUSH_BYTES);
      if (this.gatherBytes === 0) this.pendingSinceMs = nowMs;
      const n = chunk.copy(this.gather, this.gatherBytes, done);
      this.gatherBytes += n;
      done += n;
      if (this.gatherBytes === FLUSH_BYTES) this.handOff();
    }
  }

  /** Ms until flush() would write what is queued; Infinity when nothing is. */
  flushDueInMs(nowMs: number): number {
    return this.gatherBytes === 0 ? Infinity : Math.max(0, this.pendingSinceMs + FLUSH_AFTER_MS - nowMs);
  }

  /** Hand the queue to the sinks once it is big or old enough (or at once with force). A
   *  write per datagram or per wake-up costs a thread-pool round trip each: on a receiver
   *  short of CPU that, not the data, was most of its time. */
  flush(nowMs: number, force = false): void {
    if (this.gatherBytes === 0) return;
    if (!force && nowMs - this.pendingSinceMs < FLUSH_AFTER_MS) return;
    this.handOff();
  }

  private handOff(): void {
    const buf = this.gather as Buffer;
    const data = buf.subarray(0, this.gatherBytes);
    this.gather = null; // the sinks may still be writing it
    this.gatherBytes = 0;
    let writing = this.live.size;
    const written = (): void => { if (--writing === 0 && this.spare.length < MAX_SPARE_BUFFERS) this.spare.push(buf); };
    for (const s of this.live) if (!s.write(data, written)) this.waiting.add(s);
  }

  /** Finish every sink; failures of any sink are returned (and collected). */
  async finish(verified: Verified): Promise<SinkFailure[]> {
    this.flush(0, true);
    // Failed sinks finish too: a pipe's exit status is known only once it exited.
    const results = await Promise.all(this.sinks.map((s) => s.finish(verified)));
    // A sink's last word replaces what it said when it failed (a pipe's exit status comes last).
    results.forEach((f, i) => { if (f) this.failureOf.set(this.sinks[i], f); });
    return this.failures;
  }

  async abort(): Promise<void> { await Promise.all(this.sinks.map((s) => s.abort())); }
}
