// How a compressed stream says how long it is once decompressed: the sender appends a zstd
// skippable frame (RFC 8878, section 3.1.2) after the compressor's output. Decompressors skip
// it, so the stream (and a stored .zst file) stays ordinary zstd; it lies under the stream's
// SHA-256 like every other byte, and needs no field in the wire format.
export const ZSTD_LENGTH_FRAME_BYTES = 20;
/** Skippable frames use magic numbers 0x184D2A50 to 0x184D2A5F; this one is ours. */
const SKIPPABLE_MAGIC = 0x184d2a5d;
const CONTENT_BYTES = 12;
const TAG = Buffer.from('dbcL');

export function encodeZstdLength(plainBytes: number): Buffer {
  const b = Buffer.alloc(ZSTD_LENGTH_FRAME_BYTES);
  b.writeUInt32LE(SKIPPABLE_MAGIC, 0);
  b.writeUInt32LE(CONTENT_BYTES, 4);
  TAG.copy(b, 8);
  b.writeBigUInt64LE(BigInt(plainBytes), 12);
  return b;
}

/** The plain length the last ZSTD_LENGTH_FRAME_BYTES of a stream carry, or null (not ours). */
export function decodeZstdLength(tail: Buffer): number | null {
  if (tail.length !== ZSTD_LENGTH_FRAME_BYTES) return null;
  if (tail.readUInt32LE(0) !== SKIPPABLE_MAGIC || tail.readUInt32LE(4) !== CONTENT_BYTES || !tail.subarray(8, 12).equals(TAG)) return null;
  const n = tail.readBigUInt64LE(12);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}

/** --compress zstd[:LEVEL]: levels past 19 need zstd's --ultra and its memory; not offered. */
export const ZSTD_MAX_LEVEL = 19;
/** Level 1: the fastest, so that compression keeps up with a 1 Gbit link on two cores
 *  (README "Compression" has the measurement); higher levels suit slower links. */
export const ZSTD_DEFAULT_LEVEL = 1;
