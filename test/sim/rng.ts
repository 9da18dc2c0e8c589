// Seeded PRNG (mulberry32): a failing seed replays exactly.
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0 || 0x9e3779b9; }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hiInclusive: number): number { return lo + Math.floor(this.next() * (hiInclusive - lo + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]; }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n + 4);
    for (let i = 0; i < n; i += 4) b.writeUInt32LE((this.next() * 4294967296) >>> 0, i);
    return b.subarray(0, n);
  }
  /** A 64-bit session id as 16 hex digits. */
  sessionId(): string {
    return [0, 1].map(() => ((this.next() * 4294967296) >>> 0).toString(16).padStart(8, '0')).join('');
  }
}
