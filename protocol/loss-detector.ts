// The receiver's loss detector: which byte ranges are missing, since when, and when each may be
// NAKed. A hole is NAKed only once it has outlived the reorder delay (a packet that is merely
// late is not asked for again), and again after a backoff of a few round trips with random
// jitter (so many receivers do not NAK in step). The reorder delay is learned from what
// arrives: a packet that fills a hole before it was asked for, or sooner after the NAK than a
// repair could come, was reordered, and how late it was is a sample (in the spirit of RACK's
// adaptive reordering window, RFC 8985). Pure: time and randomness come in as arguments.
import type { ByteRange } from './codec';

export interface LossDetectorConfig {
  /** The shortest reorder delay, whatever was measured. */
  minReorderDelayMs: number;
  /** The reorder delay before anything was measured. */
  initialReorderDelayMs: number;
  /** The longest reorder delay: loss recovery never waits longer than this to start. */
  maxReorderDelayMs: number;
  /** A NAK is repeated no sooner than this. */
  minRetryMs: number;
  /** Round trip assumed until one is measured. */
  initialRttMs: number;
  /** Uniform in [0, 1): jitter for the backoff (seeded in tests, crypto in production). */
  random: () => number;
}

export const LOSS_DETECTOR_DEFAULTS: Omit<LossDetectorConfig, 'random'> = {
  minReorderDelayMs: 1,
  initialReorderDelayMs: 16,
  maxReorderDelayMs: 50,
  minRetryMs: 3,
  initialRttMs: 10,
};

/** Holes tracked at most; past this the last one is widened instead of a new one made. */
export const MAX_HOLES = 8192;
/** The backoff doubles per repeat up to 2^this. */
const MAX_BACKOFF_SHIFT = 3;
/** After this many holes in a row were filled by repairs (real losses, no reordering seen in
 *  between), the reorder delay halves towards the floor: a clean link recovers losses quickly. */
const DECAY_AFTER_REPAIRED_FILLS = 16;
/** A reorder sample is stretched by this much, so the next packet as late is not NAKed. */
const REORDER_MARGIN = 4;

interface Hole {
  start: number;
  end: number;
  firstSeenMs: number;
  naks: number;
  lastNakMs: number;
  nextNakMs: number;
}

export class LossDetector {
  private readonly holes: Hole[] = [];
  /** Everything below this was seen or is a hole. */
  private knownEnd = 0;
  private reorderDelay: number;
  private rtt: number;
  private rttMeasured = false;
  private repairedInARow = 0;
  /** Holes filled by a packet that was only late (reordered), and by one that came after a NAK. */
  reorderedFills = 0;
  repairedFills = 0;

  constructor(private readonly cfg: LossDetectorConfig) {
    this.reorderDelay = cfg.initialReorderDelayMs;
    this.rtt = cfg.initialRttMs;
  }

  get reorderDelayMs(): number { return this.reorderDelay; }
  get rttMs(): number { return this.rtt; }
  get holeCount(): number { return this.holes.length; }

  /** A round trip measured elsewhere (the JOIN/WELCOME exchange). */
  noteRttSample(ms: number): void {
    if (!(ms >= 0)) return;
    this.rtt = this.rttMeasured ? 0.875 * this.rtt + 0.125 * ms : ms;
    this.rttMeasured = true;
  }

  /** The sender says it has sent up to `end` (heartbeat, END): anything unseen below is a hole. */
  noteKnownEnd(end: number, nowMs: number): void {
    if (end <= this.knownEnd) return;
    this.addHole(this.knownEnd, end, nowMs);
    this.knownEnd = end;
  }

  /** Bytes [start, end) arrived (not a duplicate). */
  noteArrival(start: number, end: number, nowMs: number): void {
    if (start >= this.knownEnd) {
      if (start > this.knownEnd) this.addHole(this.knownEnd, start, nowMs);
      this.knownEnd = end;
      return;
    }
    const i = this.holeAt(start);
    if (i < 0) { if (end > this.knownEnd) this.knownEnd = end; return; }
    const h = this.holes[i];
    this.learn(h, nowMs);
    const parts: Hole[] = [];
    if (h.start < start) parts.push({ ...h, end: start });
    if (end < h.end) parts.push({ ...h, start: end });
    this.holes.splice(i, 1, ...parts);
    if (end > this.knownEnd) this.knownEnd = end;
  }

  /** Everything below `offset` arrived in order: holes below it are gone. */
  dropBelow(offset: number): void {
    let k = 0;
    while (k < this.holes.length && this.holes[k].end <= offset) k++;
    if (k > 0) this.holes.splice(0, k);
    if (this.holes.length > 0 && this.holes[0].start < offset) this.holes[0].start = offset;
    if (offset > this.knownEnd) this.knownEnd = offset;
  }

  /** The holes to NAK now, lowest first, at most `max` ranges; they are marked as NAKed. */
  takeDue(nowMs: number, max: number): ByteRange[] {
    const out: ByteRange[] = [];
    for (const h of this.holes) {
      if (out.length >= max) break;
      if (h.nextNakMs > nowMs) continue;
      h.naks++;
      h.lastNakMs = nowMs;
      h.nextNakMs = nowMs + this.retryMs(h.naks);
      const last = out[out.length - 1];
      if (last && last.end === h.start) last.end = h.end; else out.push({ start: h.start, end: h.end });
    }
    return out;
  }

  /** When the next hole becomes due, or Infinity. */
  nextDueMs(): number {
    let min = Infinity;
    for (const h of this.holes) if (h.nextNakMs < min) min = h.nextNakMs;
    return min;
  }

  private retryMs(naks: number): number {
    const base = Math.max(this.cfg.minRetryMs, 2 * this.rtt + this.reorderDelay);
    return base * (1 << Math.min(naks - 1, MAX_BACKOFF_SHIFT)) * (1 + 0.25 * this.cfg.random());
  }

  /** A hole is being filled: was the packet late (reordered) or a repair? */
  private learn(h: Hole, nowMs: number): void {
    const sinceNak = nowMs - h.lastNakMs;
    if (h.naks === 0 || sinceNak < this.rtt / 2) {
      this.reorderedFills++;
      this.repairedInARow = 0;
      const sample = (nowMs - h.firstSeenMs) * REORDER_MARGIN;
      if (sample > this.reorderDelay) this.reorderDelay = Math.min(this.cfg.maxReorderDelayMs, sample);
    } else {
      this.repairedFills++;
      this.noteRttSample(sinceNak);
      if (++this.repairedInARow >= DECAY_AFTER_REPAIRED_FILLS) { this.repairedInARow = 0; this.reorderDelay /= 2; }
    }
    this.reorderDelay = Math.max(this.reorderDelay, this.cfg.minReorderDelayMs);
  }

  private addHole(start: number, end: number, nowMs: number): void {
    if (start >= end) return;
    const last = this.holes[this.holes.length - 1];
    if (this.holes.length >= MAX_HOLES && last) { last.end = Math.max(last.end, end); return; }
    this.holes.push({ start, end, firstSeenMs: nowMs, naks: 0, lastNakMs: -Infinity, nextNakMs: nowMs + this.reorderDelay });
  }

  /** Index of the hole holding `offset`, or -1. */
  private holeAt(offset: number): number {
    let lo = 0; let hi = this.holes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.holes[mid].end <= offset) lo = mid + 1; else hi = mid;
    }
    return lo < this.holes.length && this.holes[lo].start <= offset ? lo : -1;
  }
}
