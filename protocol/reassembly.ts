// The receiver's reassembly: DATA payloads placed by offset, handed out strictly in order, and
// hashed as they go so the stream can be checked against the SHA-256 that END announces.
// Offsets: delivered <= contiguous <= highestEnd.
import { createHash, type Hash } from 'crypto';
import { RangeSet } from './range-set';

/** The reorder buffer holds at most this many separate ranges above the contiguous point; a
 *  packet that would make more is dropped (and asked for again later). */
export const MAX_AHEAD_RANGES = 4096;

const EMPTY = Buffer.alloc(0);
/** The ready queue drops its delivered head once it is this long. */
const COMPACT_READY_AFTER = 4096;

export type Placement =
  | { kind: 'stored'; start: number; end: number; jumpedFrom: number | null }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; reason: 'oversized-payload' | 'beyond-end' | 'misaligned' | 'beyond-window' | 'reorder-full' };

export class Reassembly {
  /** Payloads above the contiguous point, by offset. */
  private readonly store = new Map<number, Buffer>();
  /** Payloads below it, not yet delivered, in order from readyHead: the in-order case (nearly
   *  every datagram) costs an array push and read, not Map inserts, lookups and deletes. */
  private ready: Buffer[] = [];
  private readyHead = 0;
  private readonly ahead = new RangeSet();
  private readonly hash: Hash = createHash('sha256');
  private digest: Buffer | null = null;
  private delivered = 0;
  private contiguous = 0;
  private highest = 0;

  get deliveredOffset(): number { return this.delivered; }
  get contiguousOffset(): number { return this.contiguous; }
  get highestEnd(): number { return this.highest; }
  get bytesReady(): number { return this.contiguous - this.delivered; }
  /** Separate ranges held above the contiguous point. */
  get aheadRanges(): number { return this.ahead.count; }
  /** Bytes held, delivered or not (for memory bounds). */
  get heldBytes(): number {
    let n = this.contiguous - this.delivered;
    for (const b of this.store.values()) n += b.length;
    return n;
  }

  /** Place a DATA payload, within a window of `windowBytes` past what was delivered and below `totalBytes` when known. */
  place(offset: number, payload: Buffer, limits: { payloadBytes: number; windowBytes: number; totalBytes: number | null }): Placement {
    const len = payload.length;
    const end = offset + len;
    if (len > limits.payloadBytes && limits.payloadBytes > 0) return { kind: 'rejected', reason: 'oversized-payload' };
    if (limits.totalBytes !== null && end > limits.totalBytes) return { kind: 'rejected', reason: 'beyond-end' };
    if (end <= this.contiguous) return { kind: 'duplicate' };
    if (offset < this.contiguous) return { kind: 'rejected', reason: 'misaligned' };
    if (end > this.delivered + limits.windowBytes) return { kind: 'rejected', reason: 'beyond-window' };
    if (this.ahead.overlaps(offset, end)) {
      return this.store.get(offset)?.length === len ? { kind: 'duplicate' } : { kind: 'rejected', reason: 'misaligned' };
    }
    if (offset > this.contiguous && this.ahead.count >= MAX_AHEAD_RANGES && !this.ahead.touches(offset, end)) {
      return { kind: 'rejected', reason: 'reorder-full' };
    }
    const jumpedFrom = offset > this.highest ? this.highest : null;
    if (end > this.highest) this.highest = end;
    if (offset === this.contiguous) {
      this.ready.push(payload);
      this.contiguous = end;
      if (this.ahead.count > 0) {
        let next = this.store.get(this.contiguous);
        while (next) {
          this.store.delete(this.contiguous);
          this.ready.push(next);
          this.contiguous += next.length;
          next = this.store.get(this.contiguous);
        }
        this.ahead.dropBelow(this.contiguous);
      }
    } else {
      this.store.set(offset, payload);
      this.ahead.add(offset, end);
    }
    return { kind: 'stored', start: offset, end, jumpedFrom };
  }

  /** The next in-order chunk, hashed and handed over; null when none is ready. */
  deliver(): Buffer | null {
    if (this.delivered >= this.contiguous) return null;
    const chunk = this.ready[this.readyHead];
    this.ready[this.readyHead++] = EMPTY; // not kept alive by the queue
    if (this.readyHead === this.ready.length) { this.ready.length = 0; this.readyHead = 0; }
    else if (this.readyHead >= COMPACT_READY_AFTER) { this.ready = this.ready.slice(this.readyHead); this.readyHead = 0; }
    this.delivered += chunk.length;
    this.hash.update(chunk);
    return chunk;
  }

  /** Once every byte was delivered: the SHA-256 of the stream (computed once). */
  finalDigest(): Buffer {
    this.digest ??= this.hash.digest();
    return this.digest;
  }

  /** The stream is complete and its SHA-256 is `expected`. */
  verify(expected: Buffer): boolean { return this.finalDigest().equals(expected); }

  get sha256(): Buffer | null { return this.digest; }

  clear(): void { this.store.clear(); this.ready = []; this.readyHead = 0; }
}
