// A sender whose ANNOUNCE says which database server the dump came from: the real SenderSession
// with the info text the sender's source presets (--source postgres|mariadb) put there. Until
// those presets can run here without servers, it is how the loopback tests exercise the
// receivers' source guard with an identity of the test's choosing.
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import { SENDER_TIMING_DEFAULTS, SenderSession, type SenderReport } from '../../protocol';
import type { SourceIdentity } from '../../runtime/source-identity';
import { encodeStreamInfo } from '../../runtime/stream-info';

const now = (): number => performance.timeOrigin + performance.now();

export async function sendWithSource(o: { group: string; port: number; job: string; minReceivers: number; input: Buffer; source: SourceIdentity }): Promise<SenderReport> {
  const sock = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  sock.setMulticastInterface('127.0.0.1');
  sock.setMulticastLoopback(true);
  const session = new SenderSession({
    ...SENDER_TIMING_DEFAULTS, sessionId: randomBytes(8).toString('hex'), job: o.job, payloadBytes: 1448,
    windowBytes: 8 << 20, minReceivers: o.minReceivers, maxWaitMinReceivers: o.minReceivers, minWaitMs: 0, maxWaitMs: 30_000,
    maxRateBitsPerSec: 200e6, dropAfterMs: 0, idleTimeoutMs: 5000, cookieSecret: randomBytes(32),
    announceInfo: encodeStreamInfo({ source: o.source as unknown as Record<string, unknown> }),
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
      sock.send(t.bytes, t.to ? t.to.port : o.port, t.to ? t.to.address : o.group);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(session.pollTimeoutMs(now()), 2))));
  }
  sock.close();
  return session.report();
}
