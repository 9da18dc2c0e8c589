// Unit tier for the sessions: the rules a simulation run would only hit by chance.
import t from 'tap';
import { createHash } from 'crypto';
import {
  PacketType, RECEIVER_TIMING_DEFAULTS, ReceiverSession, SENDER_TIMING_DEFAULTS, SenderSession,
  decodePacket, encodePacket, type Endpoint, type SenderSessionConfig,
} from '../protocol';

const SENDER: Endpoint = { address: '192.0.2.1', port: 4000 };
const sid = 'a1b2c3d4e5f60718';

function sender(over: Partial<SenderSessionConfig> = {}, now = 0): SenderSession {
  return new SenderSession({
    ...SENDER_TIMING_DEFAULTS, sessionId: sid, job: 'j', payloadBytes: 1000, windowBytes: 8000,
    minReceivers: 1, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 0, maxRateBitsPerSec: 1e9,
    dropAfterMs: 0, idleTimeoutMs: 5000, ...over,
  }, now);
}

function receiver(id: number, now = 0, over: Partial<ConstructorParameters<typeof ReceiverSession>[0]> = {}): ReceiverSession {
  return new ReceiverSession({
    ...RECEIVER_TIMING_DEFAULTS, receiverId: id, name: `r${id}`, job: 'j', maxWindowBytes: 1 << 20,
    startTimeoutMs: 0, idleTimeoutMs: 5000, ...over,
  }, now);
}

/** Pass every pending packet both ways until both sides are quiet. */
function exchange(s: SenderSession, rs: ReceiverSession[], now: number): void {
  for (let round = 0; round < 1000; round++) {
    let moved = false;
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

t.test('a forged END with a wrong SHA-256 ends in hash-mismatch, never verified', async (t) => {
  const r = receiver(1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'j' }), SENDER, 0);
  r.handlePacket(encodePacket({ type: PacketType.Welcome, sessionId: sid, receiverId: 1, echoReceiverTimeMs: 0, senderTimeMs: 1 }), SENDER, 0);
  const payload = Buffer.from('hello world');
  r.handlePacket(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 0, payload }), SENDER, 1);
  const wrong = createHash('sha256').update('something else').digest();
  r.handlePacket(encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: payload.length, sha256: wrong, senderTimeMs: 2 }), SENDER, 2);
  t.ok(r.pollDelivery(3), 'the bytes reach the sink in order');
  t.notOk(r.isVerified, 'not verified');
  const done = r.pollTransmit(3);
  const res = done && decodePacket(done.bytes);
  t.ok(res && res.ok && res.packet.type === PacketType.Done && res.packet.status === 1, 'DONE reports hash-mismatch');
  r.handlePacket(encodePacket({ type: PacketType.DoneAck, sessionId: sid, receiverId: 1 }), SENDER, 4);
  t.equal(r.result?.code, 'hash-mismatch');
});

t.test('packets of another session or another sender address are counted and ignored', async (t) => {
  const r = receiver(1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'j' }), SENDER, 0);
  r.handlePacket(encodePacket({ type: PacketType.Abort, sessionId: 'ffffffffffffffff', reason: 1, message: 'x' }), SENDER, 1);
  r.handlePacket(encodePacket({ type: PacketType.Abort, sessionId: sid, reason: 1, message: 'x' }), { address: '192.0.2.66', port: 4000 }, 1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'other-job' }), SENDER, 1);
  t.equal(r.currentState, 'joining', 'still joining');
  t.equal(r.dropped['foreign-session'], 1);
  t.equal(r.dropped['foreign-sender'], 1);
  const other = receiver(2);
  other.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'other-job' }), SENDER, 0);
  t.equal(other.currentState, 'listening', 'an announce for another job is not followed');
});

t.test('the sender never buffers more than its window, and frees it on ACK', async (t) => {
  const s = sender({ windowBytes: 8000 });
  const r = receiver(0);
  exchange(s, [r], 0);
  t.equal(s.currentState, 'sending');
  let fed = 0;
  while (s.inputSpaceBytes() > 0) { const n = Math.min(3000, s.inputSpaceBytes()); s.handleInput(Buffer.alloc(n, 1), 1); fed += n; }
  t.equal(fed, 8000, 'exactly the window was accepted');
  t.equal(s.inputSpaceBytes(), 0);
  exchange(s, [r], 2);
  exchange(s, [r], 40);
  t.ok(s.inputSpaceBytes() > 0, 'space again after the receiver acknowledged');
});

t.test('a receiver that joins after the start is refused, loudly', async (t) => {
  const s = sender();
  const early = receiver(0);
  exchange(s, [early], 0);
  t.equal(s.currentState, 'sending');
  const late = receiver(1);
  exchange(s, [early, late], 100); // heartbeats reach the late receiver, it joins, gets refused
  t.equal(late.result?.code, 'refused');
  t.match(late.result?.message ?? '', /late-join/);
  const ev: string[] = [];
  for (let e = s.pollEvent(); e; e = s.pollEvent()) ev.push(e.type);
  t.ok(ev.includes('refused'), 'the sender reports the refusal');
  t.equal(s.report().refused.length, 1);
});

t.test('max-wait without enough receivers aborts with not-enough-receivers', async (t) => {
  const s = sender({ minReceivers: 3, maxWaitMinReceivers: 2, maxWaitMs: 1000 });
  const r = receiver(0);
  exchange(s, [r], 0);
  t.equal(s.currentState, 'waiting');
  exchange(s, [r], 1000);
  exchange(s, [r], 1001);
  t.equal(s.report().abortReason, 'not-enough-receivers');
  t.equal(r.result?.code, 'aborted');
});

t.test('max-wait with enough for the fallback starts', async (t) => {
  const s = sender({ minReceivers: 3, maxWaitMinReceivers: 1, maxWaitMs: 1000 });
  const r = receiver(0);
  exchange(s, [r], 0);
  exchange(s, [r], 1000);
  t.equal(s.currentState, 'sending');
});

t.test('min-wait holds the start after the first join', async (t) => {
  const s = sender({ minReceivers: 1, minWaitMs: 500 });
  const r = receiver(0);
  exchange(s, [r], 0);
  exchange(s, [r], 499);
  t.equal(s.currentState, 'waiting');
  exchange(s, [r], 500);
  t.equal(s.currentState, 'sending');
});

t.test('data beyond the receiver window is dropped, not buffered', async (t) => {
  const r = receiver(1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 4000, payloadBytes: 1000, job: 'j' }), SENDER, 0);
  r.handlePacket(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 10_000, payload: Buffer.alloc(1000) }), SENDER, 1);
  r.handlePacket(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 0, payload: Buffer.alloc(1001) }), SENDER, 1);
  t.equal(r.dropped['beyond-window'], 1);
  t.equal(r.dropped['oversized-payload'], 1);
  t.equal(r.bytesReady, 0);
});

t.test('a silent receiver is dropped and the others finish', async (t) => {
  const s = sender({ minReceivers: 2, idleTimeoutMs: 1000 });
  const a = receiver(0); const b = receiver(1);
  exchange(s, [a, b], 0);
  s.handleInput(Buffer.alloc(5000, 7), 1);
  s.handleInputEnd(1);
  exchange(s, [a], 2); // b hears nothing from now on
  for (let now = 50; now <= 1500; now += 50) exchange(s, [a], now);
  a.handleSinksFinished(true, -1, '', 1500);
  for (let now = 1550; now <= 2000; now += 50) exchange(s, [a], now);
  t.equal(a.result?.code, 'ok');
  const rep = s.report();
  t.same(rep.receivers.map((x) => [x.name, x.outcome, x.code]), [['r0', 'ok', 'ok'], ['r1', 'dropped', 'silent']]);
  t.ok(s.isFinished);
});
