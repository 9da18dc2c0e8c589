// What the simulated network does to a datagram: one direction of a link (loss with
// Gilbert-Elliott bursts, duplication, corruption, delay, reordering), the sender's uplink
// as a drop-tail bottleneck, and a receiver's socket buffer drained by a CPU of limited speed.
import type { Rng } from './rng';

export interface LinkProfile {
  lossRate: number;
  /** Gilbert-Elliott bursts: chance per packet to enter / leave the bad state. */
  burstEnter: number;
  burstExit: number;
  burstLossRate: number;
  dupRate: number;
  /** Chance that a packet is held back by up to reorderDelayMs and overtaken by later ones. */
  reorderRate: number;
  reorderDelayMs: number;
  corruptRate: number;
  delayMs: number;
  /** Varies the delay without reordering: a link is a queue, later packets never pass earlier ones. */
  jitterMs: number;
  /** Several paths (a bond, ECMP): each packet takes an extra delay of up to spreadMs of its own,
   *  so packets sent close together swap places. */
  spreadMs: number;
}

export const CLEAN_LINK: LinkProfile = {
  lossRate: 0, burstEnter: 0, burstExit: 1, burstLossRate: 0, dupRate: 0, reorderRate: 0,
  reorderDelayMs: 0, corruptRate: 0, delayMs: 0.2, jitterMs: 0, spreadMs: 0,
};

export interface LinkState { inBurst: boolean; lastArrivalMs: number }
export const newLinkState = (): LinkState => ({ inBurst: false, lastArrivalMs: 0 });

export interface Copy { atMs: number; bytes: Buffer; corrupted: boolean; reordered: boolean }

/** Whether the link loses the next datagram (Gilbert-Elliott: a good and a bad state). */
export function lose(rng: Rng, link: LinkProfile, st: LinkState): boolean {
  if (st.inBurst) { if (rng.chance(link.burstExit)) st.inBurst = false; }
  else if (rng.chance(link.burstEnter)) st.inBurst = true;
  return rng.chance(st.inBurst ? link.burstLossRate : link.lossRate);
}

/** The copies of a datagram sent at sentMs that reach the far end: none when it is lost. */
export function carry(rng: Rng, link: LinkProfile, st: LinkState, bytes: Buffer, sentMs: number): Copy[] {
  if (lose(rng, link, st)) return [];
  const copies: Copy[] = [];
  const n = rng.chance(link.dupRate) ? 2 : 1;
  for (let c = 0; c < n; c++) {
    let b = Buffer.from(bytes); // each host gets its own copy, as on a real network
    const corrupted = rng.chance(link.corruptRate);
    if (corrupted) {
      const mode = rng.int(0, 2);
      if (mode === 0) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
      else if (mode === 1) b = b.subarray(0, rng.int(0, b.length - 1));
      else b = Buffer.concat([b, rng.bytes(rng.int(1, 16))]);
    }
    let atMs = Math.max(sentMs + link.delayMs + rng.next() * link.jitterMs, st.lastArrivalMs);
    const held = rng.chance(link.reorderRate);
    if (held) atMs += rng.next() * link.reorderDelayMs;
    else st.lastArrivalMs = atMs;
    if (link.spreadMs > 0) atMs += rng.next() * link.spreadMs;
    copies.push({ atMs, bytes: b, corrupted, reordered: held || link.spreadMs > 0 });
  }
  return copies;
}

/** The sender's uplink when it is slower than the configured rate: a drop-tail queue. */
export interface BottleneckSpec { rateBytesPerMs: number; queueBytes: number }

export class Bottleneck {
  private freeAtMs = 0;
  drops = 0;
  constructor(private readonly spec: BottleneckSpec) {}
  /** When a datagram of wireBytes entering at nowMs leaves the queue; null: the queue is full. */
  admit(wireBytes: number, nowMs: number): number | null {
    const backlogBytes = Math.max(0, this.freeAtMs - nowMs) * this.spec.rateBytesPerMs;
    if (backlogBytes + wireBytes > this.spec.queueBytes) { this.drops++; return null; }
    this.freeAtMs = Math.max(nowMs, this.freeAtMs) + wireBytes / this.spec.rateBytesPerMs;
    return this.freeAtMs;
  }
}

/** A receiver host's socket: a buffer of capacityBytes, read one datagram per cpuMsPerPacket. */
export interface SocketSpec { capacityBytes: number; cpuMsPerPacket: number }

/** What a queued datagram costs the buffer beyond its bytes (Linux charges the whole skb), which
 *  is why a receiver advertises only a share of its buffer as flow window. */
export const SKB_OVERHEAD_BYTES = 576;

export class SocketBuffer<T> {
  private readonly items: { item: T; charge: number }[] = [];
  private head = 0;
  private usedBytes = 0;
  peakBytes = 0;
  drops = 0;
  constructor(readonly spec: SocketSpec) {}
  get length(): number { return this.items.length - this.head; }
  /** False (and counted) when the datagram does not fit: the kernel drops it. */
  offer(item: T, datagramBytes: number): boolean {
    const charge = datagramBytes + SKB_OVERHEAD_BYTES;
    if (this.usedBytes + charge > this.spec.capacityBytes) { this.drops++; return false; }
    this.items.push({ item, charge });
    this.usedBytes += charge;
    this.peakBytes = Math.max(this.peakBytes, this.usedBytes);
    return true;
  }
  take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head++];
    this.usedBytes -= x.charge;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items.splice(0, this.head); this.head = 0; }
    return x.item;
  }
  clear(): void { this.items.length = 0; this.head = 0; this.usedBytes = 0; }
}
