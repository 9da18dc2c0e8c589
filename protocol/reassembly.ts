// The receiver's reassembly: DATA payloads placed by offset, handed out strictly in order, and
// hashed as they go so the stream can be checked against the SHA-256 that END announces.
// Offsets: delivered <= contiguous <= highestEnd.
import { createHash, type Hash } from 'crypto';
import { RangeSet } from './range-set';

/** The reorder buffer holds at most this many separate ranges above the contiguous point; a
 *  packet that would make more is dropped (and asked for again later). */
export const MAX_AHEAD_RANGES = 4096;

export type Placement =
  | { kind: 'stored'; start: number; end: number; jumpedFrom: number | null }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; reason: 'oversized-payload' | 'beyond-end' | 'misaligned' | 'beyond-window' | 'reorder-full' };

export class Reassembly {
  private readonly store = new Map<number, Buffer>();
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
  get heldBytes(): number { let n = 0; for (const b of this.store.values()) n += b.length; return n; }

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
    this.store.set(offset, payload);
    const jumpedFrom = offset > this.highest ? this.highest : null;
    if (end > this.highest) this.highest = end;
    if (offset === this.contiguous) {
      let next = this.store.get(this.contiguous);
      while (next) {
        this.contiguous += next.length;
        next = this.store.get(this.contiguous);
      }
      this.ahead.dropBelow(this.contiguous);
    } else {
      this.ahead.add(offset, end);
    }
    return { kind: 'stored', start: offset, end, jumpedFrom };
  }

  /** The next in-order chunk, hashed and handed over; null when none is ready. */
  deliver(): Buffer | null {
    if (this.delivered >= this.contiguous) return null;
    const chunk = this.store.get(this.delivered);
    if (!chunk) return null;
    this.store.delete(this.delivered);
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

  clear(): void { this.store.clear(); }
}
