// A sender that announces the wrong SHA-256 at the end: the real SenderSession, with its END
// packets rewritten on the way out. It forces the receiver's hash-mismatch path, which a
// correct sender never takes, so that the test can see what a receiver's sinks do then.
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import {
  PacketType, SENDER_TIMING_DEFAULTS, SenderSession, decodePacket, encodePacket, type SenderReport,
} from '../../protocol';

const now = (): number => performance.timeOrigin + performance.now();

/**
 * announceInfo: the ANNOUNCE info (e.g. a compressed stream's, for crafted compressed bytes).
 * honestEnd: END says the true SHA-256 of `input` (the lie is then in the bytes themselves).
 */
export async function lyingSend(o: { group: string; port: number; job: string; minReceivers: number; input: Buffer; announceInfo?: string; honestEnd?: boolean }): Promise<SenderReport> {
  const sock = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  sock.setMulticastInterface('127.0.0.1');
  sock.setMulticastLoopback(true);
  const session = new SenderSession({
    ...SENDER_TIMING_DEFAULTS, sessionId: randomBytes(8).toString('hex'), job: o.job, payloadBytes: 1448,
    windowBytes: 8 << 20, minReceivers: o.minReceivers, maxWaitMinReceivers: o.minReceivers, minWaitMs: 0, maxWaitMs: 30_000,
    maxRateBitsPerSec: 200e6, dropAfterMs: 0, idleTimeoutMs: 5000, cookieSecret: randomBytes(32),
    ...(o.announceInfo !== undefined ? { announceInfo: o.announceInfo } : {}),
  }, now());
  sock.on('message', (msg, rinfo) => session.handlePacket(msg, { address: rinfo.address, port: rinfo.port }, now()));
  let fed = 0;
  while (!session.isFinished) {
    while (fed < o.input.length && session.inputSpaceBytes() > 0) {
      const n = Math.min(session.inputSpaceBytes(), 1 << 20, o.input.length - fed);
      session.handleInput(o.input.subarray(fed, fed + n), now());
      fed += n;
      if (fed === o.input.length) session.handleInputEnd(now());
    }
    session.handleTimeout(now());
    for (let t = session.pollTransmit(now()), n = 0; t && n < 64; t = session.pollTransmit(now()), n++) {
      let bytes = t.bytes;
      const p = decodePacket(bytes);
      if (p.ok && p.packet.type === PacketType.End && !o.honestEnd) {
        const sha256 = Buffer.from(p.packet.sha256); sha256[0] ^= 0xff;
        bytes = encodePacket({ ...p.packet, sha256 });
      }
      sock.send(bytes, t.to ? t.to.port : o.port, t.to ? t.to.address : o.group);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(session.pollTimeoutMs(now()), 2))));
  }
  sock.close();
  return session.report();
}
