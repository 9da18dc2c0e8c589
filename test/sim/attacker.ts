// What a hostile host on the segment (no key) sends from its own address: forged packets of
// every type for the live session, garbage, and captured packets replayed as is or mutated
// and resealed with a correct CRC.
import {
  AbortReason, DATA_FIELDS_BYTES, DropReason, HEADER_BYTES, PacketType, TRAILER_BYTES, WelcomeVerdict, crc32,
  encodeDataPacket, encodePacket,
} from '../../protocol';
import type { Rng } from './rng';

/** Recompute a packet's CRC-32 trailer after its bytes were changed. */
export function reseal(b: Buffer): Buffer {
  b.writeUInt32BE(crc32(b.subarray(0, b.length - TRAILER_BYTES)), b.length - TRAILER_BYTES);
  return b;
}

export function attackBatch(rng: Rng, sessionId: string, receiverNames: readonly string[], captured: readonly Buffer[], nowMs: number, senderClockMs: number): Buffer[] {
  const sid = sessionId;
  const n = receiverNames.length;
  const batch: Buffer[] = [
    encodePacket({ type: PacketType.Abort, sessionId: sid, reason: AbortReason.InputFailed, message: 'forged' }),
    encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: 1, sha256: rng.bytes(32), senderTimeMs: nowMs }),
    encodePacket({ type: PacketType.Drop, sessionId: sid, receiverId: rng.int(1, n), reason: DropReason.Silent }),
    encodePacket({ type: PacketType.DoneAck, sessionId: sid, receiverId: rng.int(1, n) }),
    encodePacket({ type: PacketType.Join, sessionId: sid, challenge: rng.bytes(16), cookie: rng.bytes(16), receiverTimeMs: nowMs, echoSenderTimeMs: nowMs, name: 'intruder' }),
    encodePacket({ type: PacketType.Join, sessionId: sid, challenge: rng.bytes(16), cookie: Buffer.alloc(16), receiverTimeMs: nowMs, echoSenderTimeMs: nowMs, name: rng.pick(receiverNames) }),
    encodePacket({ type: PacketType.Welcome, sessionId: sid, challenge: rng.bytes(16), cookie: rng.bytes(16), receiverId: rng.int(1, n), verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: nowMs, senderTimeMs: nowMs + senderClockMs }),
    encodePacket({ type: PacketType.Status, sessionId: sid, receiverId: rng.int(1, n), cookie: rng.bytes(16), deliveredOffset: 1 << 30, contiguousOffset: 1 << 30, receivedEndOffset: 1 << 30, flowWindowBytes: 1 << 20, echoSenderTimeMs: nowMs, holdMs: 0, naks: [] }),
    encodeDataPacket(sid, 0, [rng.bytes(64)], 64),
    encodePacket({ type: PacketType.Heartbeat, sessionId: sid, sentEndOffset: 1 << 30, senderTimeMs: nowMs + senderClockMs, job: 'sim' }),
  ].map((b) => Buffer.from(b));
  batch.push(rng.bytes(rng.int(1, 200)));
  for (let k = 0; k < 4 && captured.length > 0; k++) {
    const c = Buffer.from(rng.pick(captured));
    batch.push(Buffer.from(c));
    c[rng.int(12, Math.max(12, c.length - 5))] ^= 1 << rng.int(0, 7);
    batch.push(reseal(c));
  }
  return batch;
}

/** A DATA packet of the real session with the real offset and length and other payload bytes,
 *  resealed: what a keyless host spoofing the sender's address can inject. */
export function forgeData(rng: Rng, real: Buffer): Buffer {
  const b = Buffer.from(real);
  const payloadStart = HEADER_BYTES + DATA_FIELDS_BYTES;
  const payloadEnd = b.length - TRAILER_BYTES;
  if (payloadEnd <= payloadStart) return b;
  const flips = rng.int(1, 4);
  for (let i = 0; i < flips; i++) b[rng.int(payloadStart, payloadEnd - 1)] ^= 1 + rng.int(0, 254);
  return reseal(b);
}
