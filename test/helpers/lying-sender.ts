// A sender that announces the wrong SHA-256 at the end: the real SenderSession, with its END
// packets rewritten on the way out. It forces the receiver's hash-mismatch path, which a
// correct sender never takes, so that the test can see what a receiver's sinks do then.
import { PacketType, decodePacket, encodePacket, type SenderReport } from '../../protocol';
import { sendOnLoopback } from './session-sender';

/**
 * announceInfo: the ANNOUNCE info (e.g. a compressed stream's, for crafted compressed bytes).
 * honestEnd: END says the true SHA-256 of `input` (the lie is then in the bytes themselves).
 */
export async function lyingSend(o: { group: string; port: number; job: string; minReceivers: number; input: Buffer; announceInfo?: string; honestEnd?: boolean }): Promise<SenderReport> {
  return sendOnLoopback({
    ...o,
    rewrite: (bytes) => {
      const p = decodePacket(bytes);
      if (!p.ok || p.packet.type !== PacketType.End || o.honestEnd) return bytes;
      const sha256 = Buffer.from(p.packet.sha256); sha256[0] ^= 0xff;
      return encodePacket({ ...p.packet, sha256 });
    },
  });
}
