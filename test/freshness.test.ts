// Unit tier: freshness and return routability. A receiver takes data only after a WELCOME that
// answers its own fresh challenge, so a recorded session replayed later is never delivered; the
// sender stores nothing and unicasts nothing for a JOIN until the JOIN brings back the cookie
// of its address, so a spoofed source can neither join nor be sent repairs.
import t from 'tap';
import { createHash } from 'crypto';
import {
  COOKIE_BYTES, PacketType, WelcomeVerdict, decodePacket, encodePacket, type Endpoint, type Packet, type Transmit,
} from '../protocol';
import { SENDER, admit, exchange, receiver, seeded, sender, sid } from './helpers/sessions';

const VICTIM: Endpoint = { address: '203.0.113.50', port: 7777 };
const decode = (b: Buffer): Packet => { const m = decodePacket(b); if (!m.ok) throw new Error(m.reason); return m.packet; };
const announce = (senderTimeMs: number, sessionId = sid): Buffer => encodePacket({ type: PacketType.Announce, sessionId, senderTimeMs, windowBytes: 1 << 20, payloadBytes: 1000, job: 'j', info: '' });
const join = (challenge: Buffer, cookie: Buffer = Buffer.alloc(COOKIE_BYTES), name = 'r0'): Buffer =>
  encodePacket({ type: PacketType.Join, sessionId: sid, challenge, cookie, receiverTimeMs: 1, echoSenderTimeMs: 0, name });
const drain = (s: { handleTimeout(now: number): void; pollTransmit(now: number): Transmit | null }, now: number): Transmit[] => {
  s.handleTimeout(now);
  const out: Transmit[] = [];
  for (let tx = s.pollTransmit(now); tx; tx = s.pollTransmit(now)) out.push(tx);
  return out;
};

t.test('before a WELCOME that answers its challenge, a receiver takes no DATA and no END', async (t) => {
  const r = receiver(1);
  r.handlePacket(announce(1), SENDER, 0);
  const j = decode((r.pollTransmit(0) as Transmit).bytes);
  t.equal(j.type, PacketType.Join);
  const wrong = encodePacket({ type: PacketType.Welcome, sessionId: sid, challenge: Buffer.alloc(16, 0xaa), cookie: Buffer.alloc(16, 1), receiverId: 1, verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: 0, senderTimeMs: 1 });
  r.handlePacket(wrong, SENDER, 1);
  const payload = Buffer.from('last night');
  r.handlePacket(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 0, payload }), SENDER, 2);
  r.handlePacket(encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: payload.length, sha256: createHash('sha256').update(payload).digest(), senderTimeMs: 2 }), SENDER, 2);
  t.equal(r.currentState, 'joining', 'still joining');
  t.equal(r.bytesReady, 0, 'nothing for the sinks');
  t.notOk(r.isVerified);
  t.equal(r.dropped['bad-challenge'], 1, 'the WELCOME of another challenge is refused');
  t.equal(r.dropped['before-welcome'], 2, 'DATA and END before the WELCOME are counted and dropped');
  let ev = r.pollEvent(); const types: string[] = [];
  while (ev) { types.push(ev.type); ev = r.pollEvent(); }
  t.notOk(types.includes('joined'), 'never joined');
});

t.test('a whole recorded session replayed into a fresh receiver is never delivered, alone or racing the real sender', async (t) => {
  // Record everything a real session put on the wire, both ways.
  const input = Buffer.alloc(20_000, 5);
  const s1 = sender();
  const r1 = receiver(1);
  const recorded: Array<{ bytes: Buffer; from: Endpoint }> = [];
  let now = 0;
  s1.handleInput(input, now); s1.handleInputEnd(now);
  for (let step = 0; step < 400 && !(s1.isFinished && r1.isFinished); step++, now += 5) {
    for (const tx of drain(s1, now)) { recorded.push({ bytes: tx.bytes, from: SENDER }); r1.handlePacket(tx.bytes, SENDER, now); }
    while (r1.pollDelivery(now)) { /* sink */ }
    if (r1.isVerified) r1.handleSinksFinished(true, -1, '', now);
    for (const tx of drain(r1, now)) s1.handlePacket(tx.bytes, { address: '192.0.2.9', port: 5000 }, now);
  }
  t.equal(r1.result?.code, 'ok', 'the recorded session itself completed');
  t.ok(recorded.some((x) => decode(x.bytes).type === PacketType.Welcome), 'the recording holds WELCOMEs');

  // Replay it, within the clock bound, into a receiver that has never seen it.
  const r2 = receiver(2, 0, { random: seeded(99) });
  for (const x of recorded) { r2.handlePacket(x.bytes, x.from, 10); drain(r2, 10); }
  t.equal(r2.currentState, 'joining', 'alone: never joined');
  t.equal(r2.bytesReady, 0, 'alone: nothing delivered');
  t.ok((r2.dropped['bad-challenge'] ?? 0) > 0, 'the replayed WELCOMEs answer someone else\'s challenge');

  // Tonight's real sender (a new session) while the replay goes on.
  const tonight = Buffer.alloc(30_000, 9);
  const s2 = sender({ sessionId: 'feedfacecafebeef' });
  s2.handleInput(tonight, 10); s2.handleInputEnd(10);
  const got: Buffer[] = [];
  now = 10;
  for (let step = 0; step < 600 && !r2.isFinished; step++, now += 5) {
    const x = recorded[step % recorded.length];
    r2.handlePacket(x.bytes, x.from, now);
    for (const tx of drain(s2, now)) r2.handlePacket(tx.bytes, SENDER, now);
    for (let c = r2.pollDelivery(now); c; c = r2.pollDelivery(now)) got.push(c);
    if (r2.isVerified) r2.handleSinksFinished(true, -1, '', now);
    for (const tx of drain(r2, now)) s2.handlePacket(tx.bytes, { address: '192.0.2.9', port: 5002 }, now);
  }
  t.equal(r2.result?.code, 'ok', 'racing: the real transfer completes');
  t.equal(r2.stats().sessionId, 'feedfacecafebeef', 'racing: it joined tonight\'s session');
  t.ok(Buffer.concat(got).equals(tonight), 'racing: tonight\'s bytes, exactly, and nothing of the recording');
});

t.test('an announce far from our clock, or of a session already taken, is refused with the reason', async (t) => {
  const r = receiver(1, 86_400_000);
  r.handlePacket(announce(1_000), SENDER, 86_400_000); // a day old
  t.equal(r.currentState, 'listening');
  t.equal(r.dropped['stale-announce'], 1);
  const e = r.pollEvent();
  t.ok(e && e.type === 'announce-refused' && /clock/.test(e.reason) && /NTP/.test(e.reason), 'the reason names the clock');
  const seen = receiver(2, 0, { seenSessionIds: new Set([sid]) });
  seen.handlePacket(announce(1), SENDER, 0);
  t.equal(seen.currentState, 'listening');
  t.equal(seen.dropped['seen-session'], 1);
});

t.test('a JOIN from a spoofed source: answered on the group only, nothing stored, nothing to the victim', async (t) => {
  const s = sender();
  drain(s, 0); // the first announce
  const forged = join(Buffer.alloc(16, 1));
  s.handlePacket(forged, VICTIM, 1);
  const out = drain(s, 1);
  t.equal(out.length, 1, 'one packet');
  t.equal(out[0].to, null, 'to the group, not to the claimed source');
  const w = decode(out[0].bytes);
  t.ok(w.type === PacketType.Welcome && w.verdict === WelcomeVerdict.Validate, 'a WELCOME asking to come back with the cookie');
  t.ok(out[0].bytes.length <= forged.length, `${out[0].bytes.length} bytes for a ${forged.length}-byte JOIN`);
  t.equal(s.report().receivers.length, 0, 'no receiver entry');
  // A flood of them takes no slot, and a real receiver still joins.
  for (let i = 0; i < 300; i++) s.handlePacket(join(Buffer.alloc(16, i & 0xff), Buffer.alloc(COOKIE_BYTES), `f${i}`), { address: '203.0.113.50', port: 1000 + i }, 2);
  t.equal(drain(s, 2).filter((x) => x.to !== null).length, 0, 'nothing unicast for 300 forged JOINs');
  t.equal(s.report().receivers.length, 0, 'the table stays empty');
  const r = receiver(0);
  for (const now of [100, 200]) exchange(s, [r], now); // the next announce is due at 100
  t.equal(r.currentState, 'receiving', 'a real receiver joins');
  t.same(s.report().receivers.map((x) => x.name), ['r0']);
});

t.test('a JOIN with a made-up cookie, a STATUS with the wrong one: counted and dropped', async (t) => {
  const s = sender();
  s.handlePacket(join(Buffer.alloc(16, 1), Buffer.alloc(16, 0x55)), VICTIM, 1);
  t.equal(s.dropped['bad-cookie'], 1);
  t.equal(s.report().receivers.length, 0);
  const r = receiver(0);
  exchange(s, [r], 2);
  s.handleInput(Buffer.alloc(5000, 1), 3);
  drain(s, 3); // sent, none delivered
  const status = (cookie: Buffer): Buffer => encodePacket({ type: PacketType.Status, sessionId: sid, receiverId: 1, cookie, deliveredOffset: 0, contiguousOffset: 0, receivedEndOffset: 0, flowWindowBytes: 1 << 20, echoSenderTimeMs: 0, holdMs: 0, naks: [{ start: 0, end: 5000 }] });
  s.handlePacket(status(Buffer.alloc(16, 0x55)), { address: '192.0.2.9', port: 5000 }, 50);
  t.equal(s.dropped['bad-cookie'], 2, 'a STATUS from the right address with the wrong cookie');
  t.equal(drain(s, 50).filter((x) => decode(x.bytes).type === PacketType.Data).length, 0, 'no repair for it');
});

t.test('--receivers: a name joins once; a second JOIN with it from elsewhere is refused and reported', async (t) => {
  const s = sender({ allowedNames: ['r0', 'r1'], minReceivers: 2 });
  const a = receiver(0);
  exchange(s, [a], 0);
  const twin = receiver(0, 0, { random: seeded(42) }); // same name, another host
  twin.handlePacket(announce(1), SENDER, 1);
  for (let round = 0; round < 3; round++) {
    for (const tx of drain(twin, 1)) s.handlePacket(tx.bytes, { address: '198.51.100.9', port: 6000 }, 1);
    for (const tx of drain(s, 1)) if (tx.to === null || tx.to.port === 6000) twin.handlePacket(tx.bytes, SENDER, 1);
  }
  t.equal(twin.result?.code, 'refused');
  t.match(twin.result?.message ?? '', /duplicate-name/);
  t.same(s.report().refused.map((x) => [x.name, x.reason]), [['r0', 'duplicate-name']]);
  t.same(s.report().receivers.map((x) => [x.name, x.outcome]), [['r0', 'incomplete'], ['r1', 'missing']], 'one r0 in the table (r1, expected, has its missing row)');
});

t.test('JOINs from outside the accepted networks are dropped unanswered', async (t) => {
  const s = sender({ acceptEndpoint: (e) => e.address.startsWith('192.0.2.') });
  drain(s, 0);
  s.handlePacket(join(Buffer.alloc(16, 1)), VICTIM, 1);
  t.equal(drain(s, 1).length, 0, 'no answer at all');
  t.equal(s.dropped['outside-network'], 1);
});

t.test('repairs one receiver can draw are bounded: never below its ACK, at most its flow window per round trip', async (t) => {
  const s = sender({ windowBytes: 1 << 20, payloadBytes: 1000 });
  const r = receiver(0, 0, { flowWindowBytes: 64 * 1024 });
  exchange(s, [r], 0);
  exchange(s, [r], 40); // its first STATUS: flow window 64 KiB
  r.handleTimeout(80);
  const st = decode((r.pollTransmit(80) as Transmit).bytes);
  if (st.type !== PacketType.Status) throw new Error('no STATUS');
  const cookie = st.cookie; // what a lying but validated receiver has
  s.handleInput(Buffer.alloc(60_000, 1), 41);
  drain(s, 41); // 60 packets sent; pretend none arrived
  const lie = (contiguous: number): Buffer => encodePacket({ type: PacketType.Status, sessionId: sid, receiverId: 1, cookie, deliveredOffset: contiguous, contiguousOffset: contiguous, receivedEndOffset: contiguous, flowWindowBytes: 64 * 1024, echoSenderTimeMs: 0, holdMs: 0, naks: [{ start: contiguous, end: 2 ** 50 }] });
  s.handlePacket(lie(20_000), { address: '192.0.2.9', port: 5000 }, 100);
  const repairs = drain(s, 100).map((x) => decode(x.bytes)).filter((p): p is Extract<Packet, { type: PacketType.Data }> => p.type === PacketType.Data);
  t.ok(repairs.length > 0, `${repairs.length} repairs`);
  t.ok(repairs.every((p) => p.offset >= 20_000), 'none below what it acknowledged');
  t.ok(repairs.every((p) => p.offset < 60_000), 'none beyond what was sent');
  s.handlePacket(lie(20_000), { address: '192.0.2.9', port: 5000 }, 101);
  t.equal(drain(s, 101).filter((x) => decode(x.bytes).type === PacketType.Data).length, 0, 'asking again within the round trip draws nothing');
});

t.test('the reorder buffer stays bounded under 200k tiny out-of-order packets', async (t) => {
  const r = receiver(1);
  r.handlePacket(announce(1), SENDER, 0);
  r.handlePacket(admit(r, 0), SENDER, 0);
  const heapBefore = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  const N = 200_000;
  for (let i = 0; i < N; i++) {
    r.handlePacket(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 2 + 4 * i, payload: Buffer.alloc(1) }), SENDER, 1);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 1048576;
  t.ok((r.dropped['reorder-full'] ?? 0) >= N - 4096, `${r.dropped['reorder-full']} dropped once 4096 ranges were held`);
  t.equal(r.bytesReady, 0);
  t.comment(`200k out-of-order 1-byte packets: ${ms.toFixed(0)} ms, heap +${heapMiB.toFixed(1)} MiB (measured, not asserted)`);
});
