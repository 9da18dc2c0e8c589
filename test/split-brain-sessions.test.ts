// Two senders of one job (the old primary's cron after a failover): the sessions refuse both.
import t from 'tap';
import { AbortReason, PacketType, decodePacket, encodePacket, type Endpoint, type ReceiverSession, type SenderSession } from '../protocol';
import { receiver, sender } from './helpers/sessions';

const A: Endpoint = { address: '192.0.2.1', port: 4000 };
const B: Endpoint = { address: '192.0.2.2', port: 4000 };
const SID_A = 'a1b2c3d4e5f60718';
const SID_B = 'b1b2c3d4e5f60718';
const recvAt = (i: number): Endpoint => ({ address: '192.0.2.9', port: 5000 + i });

interface Net { senders: Array<{ s: SenderSession; at: Endpoint }>; rs: ReceiverSession[]; ears: boolean }

/** Group packets reach every receiver (and, with ears, the other senders); unicast its target. */
function step(net: Net, now: number): void {
  for (let round = 0; round < 1000; round++) {
    let moved = false;
    for (const { s } of net.senders) s.handleTimeout(now);
    for (const r of net.rs) r.handleTimeout(now);
    for (const { s, at } of net.senders) {
      for (let tx = s.pollTransmit(now); tx; tx = s.pollTransmit(now)) {
        moved = true;
        net.rs.forEach((r, i) => { if (tx && (tx.to === null || tx.to.port === 5000 + i)) r.handlePacket(tx.bytes, at, now); });
        if (tx.to === null && net.ears) for (const o of net.senders) if (o.s !== s) o.s.handleGroupPacket(tx.bytes, at, now);
      }
    }
    net.rs.forEach((r, i) => {
      while (r.pollDelivery(now)) { /* drain */ }
      for (let tx = r.pollTransmit(now); tx; tx = r.pollTransmit(now)) {
        moved = true;
        const to = tx.to;
        for (const { s, at } of net.senders) if (to && to.address === at.address) s.handlePacket(tx.bytes, recvAt(i), now);
      }
    });
    if (!moved) return;
  }
}

function run(net: Net, fromMs: number, toMs: number, each?: (now: number) => void): void {
  for (let now = fromMs; now <= toMs; now += 5) { each?.(now); step(net, now); }
}

const input = Buffer.alloc(20_000, 3);
function feed(s: SenderSession, now: number): void {
  if (s.currentState === 'sending' && s.inputSpaceBytes() >= input.length && s.report().totalBytes === 0) { s.handleInput(input, now); s.handleInputEnd(now); }
}

t.test('two senders announcing at once: every receiver refuses both, nothing verified, both senders abort split-brain', async (t) => {
  const net: Net = { senders: [{ s: sender({ sessionId: SID_A, minReceivers: 2 }), at: A }, { s: sender({ sessionId: SID_B, minReceivers: 2 }), at: B }], rs: [receiver(1), receiver(2)], ears: true };
  let verified = false;
  run(net, 0, 4000, (now) => { for (const { s } of net.senders) feed(s, now); if (net.rs.some((r) => r.isVerified)) verified = true; });
  t.notOk(verified, 'no receiver verified either stream');
  for (const { s } of net.senders) {
    const rep = s.report();
    t.equal(rep.outcome, 'aborted');
    t.equal(rep.abortReason, 'split-brain');
    t.match(rep.abortMessage, /another sender announces job 'j'/);
  }
  for (const r of net.rs) {
    t.ok(r.isFinished);
    t.equal(r.result?.code, 'split-brain', r.result?.message ?? '');
  }
});

t.test('senders that cannot hear each other: the receivers still refuse both and say so in DONE to one of them', async (t) => {
  const net: Net = { senders: [{ s: sender({ sessionId: SID_A, minReceivers: 2, maxWaitMs: 3000 }), at: A }, { s: sender({ sessionId: SID_B, minReceivers: 2, maxWaitMs: 3000 }), at: B }], rs: [receiver(1), receiver(2)], ears: false };
  let verified = false;
  run(net, 0, 12_000, (now) => { for (const { s } of net.senders) feed(s, now); if (net.rs.some((r) => r.isVerified)) verified = true; });
  t.notOk(verified);
  for (const r of net.rs) t.equal(r.result?.code, 'split-brain', r.result?.message ?? '');
  const rows = net.senders.flatMap(({ s }) => s.report().receivers);
  t.ok(rows.length > 0, 'the receivers joined a sender to report');
  for (const row of rows) t.equal(row.code, 'split-brain', `${row.name}: ${row.detail}`);
  for (const { s } of net.senders) t.not(s.report().outcome === 'completed' && s.report().receivers.every((x) => x.outcome === 'ok'), true, 'no sender succeeds');
});

t.test('a rival announcing while the stream runs is probed; once it answers, the running one is refused too', async (t) => {
  const a = sender({ sessionId: SID_A, minReceivers: 1 });
  const b = sender({ sessionId: SID_B, minReceivers: 1 });
  const net: Net = { senders: [{ s: a, at: A }], rs: [receiver(1)], ears: false };
  // A starts and gets half its input out; the receiver cannot verify before the rival appears.
  run(net, 0, 200, (now) => { if (a.currentState === 'sending' && a.report().totalBytes === 0) a.handleInput(input, now); });
  t.equal(net.rs[0].currentState, 'receiving');
  net.senders.push({ s: b, at: B });
  let refusedAtMs = -1;
  run(net, 205, 3000, (now) => { if (refusedAtMs < 0 && net.rs[0].isFinished) { refusedAtMs = now; net.ears = true; } });
  t.equal(net.rs[0].result?.code, 'split-brain', net.rs[0].result?.message ?? '');
  t.match(net.rs[0].result?.message, new RegExp(`${SID_A}.*${SID_B}`));
  t.equal(a.report().receivers[0].code, 'split-brain', 'the running sender\'s row names it');
  t.equal(a.report().abortReason, 'split-brain', 'the running sender aborts as a split brain, not as receivers lost');
  t.equal(b.report().receivers.length, 0, 'the probe never joined the rival (it took no slot there)');
  // The rival heard nothing of A before the refusal (no ears until then, as when A's last
  // heartbeat went out before its listener opened): A's lingering announce still stops it.
  t.ok(refusedAtMs > 0, 'the receiver refused');
  t.equal(b.report().abortReason, 'split-brain', 'the rival, still waiting, hears the refused sender announce and stops');
});

t.test('a replayed announce with nobody behind it never stops a run', async (t) => {
  const a = sender({ sessionId: SID_A, minReceivers: 1 });
  const net: Net = { senders: [{ s: a, at: A }], rs: [receiver(1)], ears: false };
  const replay = encodePacket({ type: PacketType.Announce, sessionId: SID_B, senderTimeMs: 0, windowBytes: 8000, payloadBytes: 1000, job: 'j', info: '' });
  run(net, 0, 3000, (now) => {
    if (a.currentState === 'sending' && a.report().totalBytes === 0) { a.handleInput(input.subarray(0, 6000), now); a.handleInputEnd(now); }
    if (now % 50 === 0) net.rs[0].handlePacket(replay, B, now);
    if (net.rs[0].isVerified) net.rs[0].handleSinksFinished(true, -1, '', now);
  });
  t.equal(net.rs[0].result?.code, 'ok', net.rs[0].result?.message ?? '');
  t.equal(a.report().receivers[0].code, 'ok');
});

t.test('a receiver still joining hears a sender abort for split brain and ends split-brain', async (t) => {
  const a = sender({ sessionId: SID_A, minReceivers: 5 });
  const net: Net = { senders: [{ s: a, at: A }], rs: [receiver(1)], ears: false };
  run(net, 0, 200);
  t.equal(net.rs[0].currentState, 'receiving', 'admitted, the sender still waiting for more');
  const rival = encodePacket({ type: PacketType.Announce, sessionId: SID_B, senderTimeMs: 205, windowBytes: 8000, payloadBytes: 1000, job: 'j', info: '' });
  a.handleGroupPacket(rival, B, 205);
  t.equal(a.currentState, 'aborting');
  run(net, 205, 3000);
  t.equal(net.rs[0].result?.code, 'split-brain', net.rs[0].result?.message ?? '');
  const abort = decodePacket(encodePacket({ type: PacketType.Abort, sessionId: SID_A, reason: AbortReason.SplitBrain, message: 'x' }));
  t.ok(abort.ok, 'ABORT split-brain is a valid packet');
  t.equal(a.report().abortReason, 'split-brain');
});

t.test('a sender ignores its own announce, other jobs and replays older than the clock skew', async (t) => {
  const a = sender({ sessionId: SID_A });
  const pkt = (sessionId: string, job: string, at: number) => encodePacket({ type: PacketType.Announce, sessionId, senderTimeMs: at, windowBytes: 8000, payloadBytes: 1000, job, info: '' });
  a.handleGroupPacket(pkt(SID_A, 'j', 0), A, 0);
  a.handleGroupPacket(pkt(SID_B, 'other', 0), B, 0);
  a.handleGroupPacket(pkt(SID_B, 'j', 0), B, 400_000);
  t.equal(a.currentState, 'waiting');
  a.handleGroupPacket(pkt(SID_B, 'j', 400_000), B, 400_000);
  t.equal(a.currentState, 'aborting');
});
