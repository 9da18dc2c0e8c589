// Token bucket with AIMD: the rate drops when repairs show sustained loss and grows back
// while the network stays clean. Time is passed in.

export interface RateConfig {
  maxRateBitsPerSec: number;
  /** Floor for the multiplicative decrease, as a fraction of the max rate. */
  minRateFraction: number;
  /** Bucket depth: how far a sender may run ahead after an idle moment. */
  burstBytes: number;
  /** Length of one measurement interval for AIMD decisions. */
  intervalMs: number;
  /** Repairs per new packet above which an interval counts as congested. */
  lossThreshold: number;
}

export class RateControl {
  private rateBytesPerMs: number;
  private tokens: number;
  private lastRefillMs: number;
  private intervalStartMs: number;
  private newPackets = 0;
  private repairPackets = 0;

  constructor(private readonly cfg: RateConfig, nowMs: number) {
    this.rateBytesPerMs = this.maxBytesPerMs;
    this.tokens = cfg.burstBytes;
    this.lastRefillMs = nowMs;
    this.intervalStartMs = nowMs;
  }

  private get maxBytesPerMs(): number { return this.cfg.maxRateBitsPerSec / 8 / 1000; }

  private refill(nowMs: number): void {
    if (nowMs > this.lastRefillMs) {
      this.tokens = this.tokensAt(nowMs);
      this.lastRefillMs = nowMs;
    }
  }

  /** Tokens in the bucket at `nowMs`, without taking any. */
  private tokensAt(nowMs: number): number {
    const dt = nowMs - this.lastRefillMs;
    return dt > 0 ? Math.min(this.cfg.burstBytes, this.tokens + dt * this.rateBytesPerMs) : this.tokens;
  }

  /** Ms to wait until `bytes` may be sent (0 = now). Changes nothing. */
  waitMs(bytes: number, nowMs: number): number {
    const tokens = this.tokensAt(nowMs);
    if (tokens >= bytes) return 0;
    return Math.max(0.05, (bytes - tokens) / this.rateBytesPerMs);
  }

  /** The current rate, for tests and reports. */
  get rateBitsPerSec(): number { return this.rateBytesPerMs * 8 * 1000; }

  handleSent(bytes: number, repair: boolean, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= bytes;
    if (repair) this.repairPackets++; else this.newPackets++;
    this.maybeAdjust(nowMs);
  }

  private maybeAdjust(nowMs: number): void {
    if (nowMs - this.intervalStartMs < this.cfg.intervalMs) return;
    const total = this.newPackets + this.repairPackets;
    if (total > 0) {
      const lossRatio = this.repairPackets / Math.max(1, this.newPackets);
      const max = this.maxBytesPerMs;
      if (lossRatio > this.cfg.lossThreshold) {
        this.rateBytesPerMs = Math.max(max * this.cfg.minRateFraction, this.rateBytesPerMs * 0.8);
      } else {
        this.rateBytesPerMs = Math.min(max, this.rateBytesPerMs + max / 20);
      }
    }
    this.intervalStartMs = nowMs;
    this.newPackets = 0;
    this.repairPackets = 0;
  }
}
