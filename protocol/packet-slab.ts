// Packet buffers carved out of large slabs. A 9 KB datagram is too big for Node's shared buffer
// pool, so allocating each one on its own costs an ArrayBuffer per packet and drives garbage
// collection (in a sender's CPU profile at MTU 9000, allocation + GC were 16 % of all samples;
// slabs took its CPU from 2.07 to 1.85 s per 256 MiB).
// The send window releases packets in order, so a slab is free once its last packet is released.
// Free slabs are used again: memory the process never touched costs a page fault per 4 KiB on
// the first write, and copying each payload into fresh slabs was most of the sender's CPU.
// A released packet may still sit in the socket's send queue (a repair queued before the last
// receiver's STATUS said it had the bytes). Whatever that send reads is then this session's own
// packets, whole or stale: a datagram nobody needs, which receivers drop as a duplicate or as a
// bad CRC; JavaScript never runs while the socket reads the buffer.

interface Slab { buf: Buffer; usedBytes: number; livePackets: number }

/** Free slabs kept for reuse; more are left to the garbage collector. */
const MAX_FREE_SLABS = 8;

export class PacketSlab {
  /** Slabs with live packets, oldest first; the last one is being carved. */
  private readonly inUse: Slab[] = [];
  private readonly free: Buffer[] = [];

  constructor(private readonly slabBytes: number) {}

  /** A buffer of `bytes` (uninitialised); give it back with release() once it is not needed. */
  readonly take = (bytes: number): Buffer => {
    if (bytes > this.slabBytes) return Buffer.allocUnsafeSlow(bytes);
    let cur = this.inUse[this.inUse.length - 1];
    if (!cur || cur.usedBytes + bytes > cur.buf.length) {
      cur = { buf: this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes), usedBytes: 0, livePackets: 0 };
      this.inUse.push(cur);
    }
    const b = cur.buf.subarray(cur.usedBytes, cur.usedBytes + bytes);
    cur.usedBytes += bytes;
    cur.livePackets++;
    return b;
  };

  /** A buffer from take() is no longer needed (packets are released in the order taken). */
  release(b: Buffer): void {
    for (let i = 0; i < this.inUse.length; i++) {
      const s = this.inUse[i];
      if (s.buf.buffer !== b.buffer) continue;
      s.livePackets--;
      // The slab being carved stays: more packets are cut from it.
      if (s.livePackets === 0 && i < this.inUse.length - 1) {
        this.inUse.splice(i, 1);
        if (this.free.length < MAX_FREE_SLABS) this.free.push(s.buf);
      }
      return;
    }
  }
}
