// Sessions wired together by hand, for the unit tests of the protocol's rules.
import {
  PacketType, RECEIVER_TIMING_DEFAULTS, ReceiverSession, SENDER_TIMING_DEFAULTS, SenderSession, WelcomeVerdict,
  decodePacket, encodePacket, type Endpoint, type SenderSessionConfig,
} from '../../protocol';
import { Rng } from '../sim/rng';

export const SENDER: Endpoint = { address: '192.0.2.1', port: 4000 };
export const sid = 'a1b2c3d4e5f60718';

export function sender(over: Partial<SenderSessionConfig> = {}, now = 0): SenderSession {
  return new SenderSession({
    ...SENDER_TIMING_DEFAULTS, sessionId: sid, job: 'j', payloadBytes: 1000, windowBytes: 8000,
    minReceivers: 1, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 0, maxRateBitsPerSec: 1e9,
    dropAfterMs: 0, idleTimeoutMs: 5000, cookieSecret: Buffer.alloc(32, 7), ...over,
  }, now);
}

export function receiver(id: number, now = 0, over: Partial<ConstructorParameters<typeof ReceiverSession>[0]> = {}): ReceiverSession {
  return new ReceiverSession({
    ...RECEIVER_TIMING_DEFAULTS, name: `r${id}`, job: 'j', maxWindowBytes: 1 << 20, random: seeded(id),
    startTimeoutMs: 0, idleTimeoutMs: 5000, ...over,
  }, now);
}

export function seeded(seed: number): (n: number) => Buffer {
  const rng = new Rng(seed + 1);
  return (n) => rng.bytes(n);
}

/** The WELCOME a sender would send this receiver for its pending JOIN (read off its transmit queue). */
export function admit(r: ReceiverSession, now: number, receiverId = 1): Buffer {
  r.handleTimeout(now);
  const tx = r.pollTransmit(now);
  const m = tx && decodePacket(tx.bytes);
  if (!m || !m.ok || m.packet.type !== PacketType.Join) throw new Error('no JOIN pending');
  return encodePacket({ type: PacketType.Welcome, sessionId: m.packet.sessionId, challenge: m.packet.challenge, cookie: Buffer.alloc(16, 9), receiverId, verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: now, senderTimeMs: now });
}

/** Pass every pending packet both ways until both sides are quiet. */
export function exchange(s: SenderSession, rs: ReceiverSession[], now: number): void {
  for (let round = 0; round < 1000; round++) {
    let moved = false;
    s.handleTimeout(now);
    for (const r of rs) r.handleTimeout(now);
    for (let tx = s.pollTransmit(now); tx; tx = s.pollTransmit(now)) {
      moved = true;
      rs.forEach((r, i) => { if (tx && (tx.to === null || tx.to.port === 5000 + i)) r.handlePacket(tx.bytes, SENDER, now); });
    }
    rs.forEach((r, i) => {
      while (r.pollDelivery(now)) { /* drain */ }
      for (let tx = r.pollTransmit(now); tx; tx = r.pollTransmit(now)) { moved = true; s.handlePacket(tx.bytes, { address: '192.0.2.9', port: 5000 + i }, now); }
    });
    if (!moved) return;
  }
}

