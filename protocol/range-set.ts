// A set of disjoint, sorted half-open byte ranges: what a receiver holds above its
// contiguous point, and therefore what it is missing.
import type { ByteRange } from './codec';

export class RangeSet {
  private readonly ranges: ByteRange[] = [];

  get count(): number { return this.ranges.length; }

  /** Index of the first range whose end is > offset. */
  private firstEndingAfter(offset: number): number {
    let lo = 0; let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].end <= offset) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** True when [start, end) shares at least one byte with the set. */
  overlaps(start: number, end: number): boolean {
    if (start >= end) return false; // an empty span shares no byte
    const i = this.firstEndingAfter(start);
    return i < this.ranges.length && this.ranges[i].start < end;
  }

  /** True when adding [start, end) would extend an existing range rather than make a new one. */
  touches(start: number, end: number): boolean {
    const i = this.firstEndingAfter(start - 1);
    return i < this.ranges.length && this.ranges[i].start <= end;
  }

  add(start: number, end: number): void {
    let i = this.firstEndingAfter(start - 1); // also merge a range ending exactly at start
    let s = start; let e = end; let j = i;
    while (j < this.ranges.length && this.ranges[j].start <= e) {
      s = Math.min(s, this.ranges[j].start); e = Math.max(e, this.ranges[j].end); j++;
    }
    this.ranges.splice(i, j - i, { start: s, end: e });
  }

  /** Remove everything below `offset`. */
  dropBelow(offset: number): void {
    let k = 0;
    while (k < this.ranges.length && this.ranges[k].end <= offset) k++;
    if (k > 0) this.ranges.splice(0, k);
    if (this.ranges.length > 0 && this.ranges[0].start < offset) this.ranges[0] = { start: offset, end: this.ranges[0].end };
  }

  /** The holes in [from, to), lowest first, at most `max` of them. */
  gaps(from: number, to: number, max: number): ByteRange[] {
    const out: ByteRange[] = [];
    let cursor = from;
    for (let i = this.firstEndingAfter(from); i < this.ranges.length && out.length < max; i++) {
      const r = this.ranges[i];
      if (r.start >= to) break;
      if (r.start > cursor) out.push({ start: cursor, end: r.start });
      cursor = Math.max(cursor, r.end);
    }
    if (out.length < max && cursor < to) out.push({ start: cursor, end: to });
    return out;
  }
}
