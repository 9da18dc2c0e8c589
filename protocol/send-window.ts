// The sender's window: the dump is a stream, so every byte not yet acknowledged by every live
// receiver is held here (the only copy there is). Input comes in as chunks, is cut into DATA
// packets of payloadBytes, goes out once as new data, and is released when the slowest live
// receiver has delivered it. Offsets: released <= base <= sentEnd <= packetized <= input.
import { createHash, type Hash } from 'crypto';
import { PACKET_SLAB_BYTES } from './constants';
import { encodeDataPacket, encodeDataPacketRange } from './codec';
import { PacketSlab } from './packet-slab';

export interface WindowPacket {
  offset: number;
  length: number;
  encoded: Buffer;
  /** When a copy of it last went out (new or repair), and to whom: a receiver id, or null for the group. */
  lastSentMs: number;
  lastSentTo: number | null;
}

/** Released packets are compacted away once at least this many are ahead of the head. */
const COMPACT_AFTER_PACKETS = 1024;

export class SendWindow {
  private readonly hash: Hash = createHash('sha256');
  private digest: Buffer | null = null;
  private pending: Buffer[] = [];
  /** Bytes of pending[0] already in packets. */
  private pendingStart = 0;
  private pendingBytes = 0;
  private inputOffset = 0;
  private packetizedOffset = 0;
  private readonly packets: WindowPacket[] = [];
  private readonly slab = new PacketSlab(PACKET_SLAB_BYTES);
  /** packets[head] is the oldest unreleased one; packets[nextNew] the next never sent. */
  private head = 0;
  private nextNew = 0;
  private sentEnd = 0;
  private base = 0;

  constructor(private readonly sessionId: string, private readonly payloadBytes: number, private readonly windowBytes: number) {}

  get inputBytes(): number { return this.inputOffset; }
  get baseOffset(): number { return this.base; }
  get sentEndOffset(): number { return this.sentEnd; }
  get sha256(): Buffer | null { return this.digest; }
  get hasPendingInput(): boolean { return this.pendingBytes > 0; }
  /** Every input byte is in a packet and every packet went out once. */
  get allSent(): boolean { return this.nextNew === this.packets.length && this.pendingBytes === 0; }
  /** Bytes held: in packets not yet released, and input not yet packetized. */
  get heldBytes(): number { return this.inputOffset - this.base; }

  /** How many more input bytes fit. */
  spaceBytes(): number { return Math.max(0, this.windowBytes - (this.inputOffset - this.base)); }

  push(chunk: Buffer): void {
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.inputOffset += chunk.length;
    this.packetize(false);
  }

  /** The input ended: the last partial packet is cut and the SHA-256 fixed. */
  end(): Buffer {
    this.digest ??= this.hash.digest();
    this.packetize(true);
    return this.digest;
  }

  /** Cut what is pending into packets; a short last packet only when `flushPartial`. */
  packetize(flushPartial: boolean): void {
    const size = this.payloadBytes;
    while (this.pendingBytes >= size || (flushPartial && this.pendingBytes > 0)) {
      const length = Math.min(size, this.pendingBytes);
      const first = this.pending[0];
      let encoded: Buffer;
      if (first.length - this.pendingStart >= length) {
        // Nearly every packet lies within one input chunk: copied from it, no views made.
        encoded = encodeDataPacketRange(this.sessionId, this.packetizedOffset, first, this.pendingStart, this.pendingStart + length, this.slab.take);
        this.pendingStart += length;
        if (this.pendingStart === first.length) { this.pending.shift(); this.pendingStart = 0; }
      } else {
        const parts: Buffer[] = [];
        let need = length;
        while (need > 0) {
          const cur = this.pending[0];
          const avail = cur.length - this.pendingStart;
          if (avail <= need) { parts.push(cur.subarray(this.pendingStart)); this.pending.shift(); this.pendingStart = 0; need -= avail; }
          else { parts.push(cur.subarray(this.pendingStart, this.pendingStart + need)); this.pendingStart += need; need = 0; }
        }
        encoded = encodeDataPacket(this.sessionId, this.packetizedOffset, parts, length, this.slab.take);
      }
      this.pendingBytes -= length;
      this.packets.push({ offset: this.packetizedOffset, length, lastSentMs: -Infinity, lastSentTo: null, encoded });
      this.packetizedOffset += length;
    }
  }

  /** Drop input not yet packetized (the session is aborting). */
  discardPending(): void { this.pending = []; this.pendingStart = 0; this.pendingBytes = 0; }

  /** The next packet never sent, or null. */
  peekNew(): WindowPacket | null { return this.nextNew < this.packets.length ? this.packets[this.nextNew] : null; }

  /** The packet from peekNew() went out to the group. */
  markNewSent(nowMs: number): void {
    const p = this.packets[this.nextNew++];
    p.lastSentMs = nowMs;
    p.lastSentTo = null;
    this.sentEnd = p.offset + p.length;
  }

  /** The held, already-sent packet holding `offset`, or null. */
  find(offset: number): WindowPacket | null {
    let lo = this.head; let hi = this.nextNew;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = this.packets[mid];
      if (p.offset + p.length <= offset) lo = mid + 1; else hi = mid;
    }
    return lo < this.nextNew && this.packets[lo].offset <= offset ? this.packets[lo] : null;
  }

  /** Held, already-sent packets from the one holding `start` while below `end`. */
  *sentBetween(start: number, end: number): Generator<WindowPacket> {
    const first = this.find(Math.max(start, this.base));
    if (!first) return;
    for (let i = this.indexOf(first); i < this.nextNew && this.packets[i].offset < end; i++) yield this.packets[i];
  }

  private indexOf(p: WindowPacket): number {
    let lo = this.head; let hi = this.nextNew;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (this.packets[mid].offset < p.offset) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /** Every live receiver has delivered below `offset`: those packets are released. */
  release(offset: number): void {
    if (offset <= this.base) return;
    this.base = offset;
    while (this.head < this.nextNew) {
      const p = this.packets[this.head];
      if (p.offset + p.length > this.base) break;
      this.slab.release(p.encoded);
      this.head++;
    }
    if (this.head > COMPACT_AFTER_PACKETS && this.head * 2 > this.packets.length) {
      this.packets.splice(0, this.head);
      this.nextNew -= this.head;
      this.head = 0;
    }
  }

  /** Offset order and bounds; empty = consistent. For tests and the simulator. */
  invariants(): string[] {
    const bad: string[] = [];
    if (this.base > this.inputOffset) bad.push(`base ${this.base} beyond the input ${this.inputOffset}`);
    if (this.sentEnd > this.packetizedOffset) bad.push(`sent ${this.sentEnd} beyond packetized ${this.packetizedOffset}`);
    if (this.packetizedOffset + this.pendingBytes !== this.inputOffset) bad.push('pending bytes do not add up to the input');
    if (this.inputOffset - this.base > this.windowBytes) bad.push(`holding ${this.inputOffset - this.base} bytes, window ${this.windowBytes}`);
    for (let i = this.head + 1; i < this.packets.length; i++) {
      const a = this.packets[i - 1]; const b = this.packets[i];
      if (a.offset + a.length !== b.offset) { bad.push(`packets not contiguous at ${b.offset}`); break; }
    }
    return bad;
  }
}
