// The real SenderSession on a loopback multicast socket, driven by hand: the base of the test
// senders that say or do what a correct `dbcast send` never would (a lying END, a source
// identity of the test's choosing). `rewrite` sees every datagram on its way out.
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import { SENDER_TIMING_DEFAULTS, SenderSession, type SenderReport } from '../../protocol';

const now = (): number => performance.timeOrigin + performance.now();

export interface LoopbackSend {
  group: string; port: number; job: string; minReceivers: number; input: Buffer;
  announceInfo?: string;
  rewrite?: (datagram: Buffer) => Buffer;
}

const FEED_CHUNK_BYTES = 1 << 20;
const DATAGRAMS_PER_TURN = 64;

export async function sendOnLoopback(o: LoopbackSend): Promise<SenderReport> {
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
      const n = Math.min(session.inputSpaceBytes(), FEED_CHUNK_BYTES, o.input.length - fed);
      session.handleInput(o.input.subarray(fed, fed + n), now());
      fed += n;
      if (fed === o.input.length) session.handleInputEnd(now());
    }
    session.handleTimeout(now());
    for (let t = session.pollTransmit(now()), n = 0; t && n < DATAGRAMS_PER_TURN; t = session.pollTransmit(now()), n++) {
      const bytes = o.rewrite ? o.rewrite(t.bytes) : t.bytes;
      sock.send(bytes, t.to ? t.to.port : o.port, t.to ? t.to.address : o.group);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(session.pollTimeoutMs(now()), 2))));
  }
  sock.close();
  return session.report();
}
