// Packet buffers carved out of large slabs. A 9 KB datagram is too big for Node's shared buffer
// pool, so allocating each one on its own costs an ArrayBuffer per packet and drives garbage
// collection (in a sender's CPU profile at MTU 9000, allocation + GC were 16 % of all samples;
// slabs took its CPU from 2.07 to 1.85 s per 256 MiB).
// The send window releases packets in order, so a slab is freed once its last packet leaves it.

export class PacketSlab {
  private slab: Buffer = Buffer.alloc(0);
  private usedBytes = 0;

  constructor(private readonly slabBytes: number) {}

  /** A buffer of `bytes` (uninitialised); its slab stays alive while any buffer from it does. */
  readonly take = (bytes: number): Buffer => {
    if (bytes > this.slabBytes) return Buffer.allocUnsafeSlow(bytes);
    if (this.usedBytes + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.usedBytes = 0;
    }
    const b = this.slab.subarray(this.usedBytes, this.usedBytes + bytes);
    this.usedBytes += bytes;
    return b;
  };
}
