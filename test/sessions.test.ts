// Unit tier for the sessions: the rules a simulation run would only hit by chance.
import t from 'tap';
import { createHash } from 'crypto';
import { PacketType, WelcomeVerdict, decodePacket, encodePacket, type Endpoint } from '../protocol';
import { SENDER, admit, exchange, receiver, sender, sid } from './helpers/sessions';

t.test('a forged END with a wrong SHA-256 ends in hash-mismatch, never verified', async (t) => {
  const r = receiver(1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'j', info: '' }), SENDER, 0);
  r.handlePacket(admit(r, 0), SENDER, 0);
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
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'j', info: '' }), SENDER, 0);
  r.handlePacket(encodePacket({ type: PacketType.Abort, sessionId: 'ffffffffffffffff', reason: 1, message: 'x' }), SENDER, 1);
  r.handlePacket(encodePacket({ type: PacketType.Abort, sessionId: sid, reason: 1, message: 'x' }), { address: '192.0.2.66', port: 4000 }, 1);
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'other-job', info: '' }), SENDER, 1);
  t.equal(r.currentState, 'joining', 'still joining');
  t.equal(r.dropped['foreign-session'], 1);
  t.equal(r.dropped['foreign-sender'], 1);
  const other = receiver(2);
  other.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 8000, payloadBytes: 1000, job: 'other-job', info: '' }), SENDER, 0);
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
  r.handlePacket(encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 4000, payloadBytes: 1000, job: 'j', info: '' }), SENDER, 0);
  r.handlePacket(admit(r, 0), SENDER, 0);
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

t.test('well-formed hostile packets of every type never throw out of a session', async (t) => {
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const big = (): number => pick([0, 1, 1447, 1448, 8000, 2 ** 32, 2 ** 53 - 1, Math.floor(rnd() * 1e6)]);
  const hostile = (): Buffer => {
    const sessionId = pick([sid, 'ffffffffffffffff']);
    const receiverId = pick([0, 1, 2, 0xffffffff]);
    const a = big(); const b = big();
    const packets = [
      encodePacket({ type: PacketType.Announce, sessionId, senderTimeMs: big(), windowBytes: pick([8000, 1, 2 ** 32 - 1]), payloadBytes: 1, job: pick(['j', 'x']), info: '' }),
      encodePacket({ type: PacketType.Join, sessionId, challenge: Buffer.alloc(16, receiverId & 0xff), cookie: Buffer.alloc(16, pick([0, 9])), receiverTimeMs: big(), echoSenderTimeMs: big(), name: 'evil' }),
      encodePacket({ type: PacketType.Welcome, sessionId, challenge: Buffer.alloc(16, receiverId & 0xff), cookie: Buffer.alloc(16, 9), receiverId: receiverId || 1, verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: big(), senderTimeMs: big() }),
      encodePacket({ type: PacketType.Data, sessionId, offset: big(), payload: Buffer.alloc(pick([1, 1000, 5000])) }),
      encodePacket({ type: PacketType.Heartbeat, sessionId, sentEndOffset: big(), senderTimeMs: big(), job: 'j' }),
      encodePacket({ type: PacketType.Status, sessionId, receiverId, cookie: Buffer.alloc(16, 9), deliveredOffset: Math.min(a, b), contiguousOffset: Math.max(a, b), receivedEndOffset: Math.max(a, b), flowWindowBytes: 1 + (a % 1000), echoSenderTimeMs: big(), holdMs: 0, naks: Math.max(a, b) < 2 ** 53 - 10 ? [{ start: Math.max(a, b), end: Math.max(a, b) + 5 }] : [] }),
      encodePacket({ type: PacketType.End, sessionId, totalBytes: big(), sha256: Buffer.alloc(32, 1), senderTimeMs: big() }),
      encodePacket({ type: PacketType.Done, sessionId, receiverId, cookie: Buffer.alloc(16, 9), status: pick([0, 1, 2, 3, 4, 5]), restoreOutcome: pick([0, 1, 2, 3]), bytes: big(), sinkExitCode: -1, repairsRequested: 0, detail: 'x' }),
      encodePacket({ type: PacketType.DoneAck, sessionId, receiverId }),
      encodePacket({ type: PacketType.Abort, sessionId, reason: pick([1, 2, 3, 4]), message: 'evil' }),
      encodePacket({ type: PacketType.Drop, sessionId, receiverId, reason: pick([1, 2, 3, 4, 5, 6]) }),
    ];
    return pick(packets);
  };
  // What the sessions counted as refused, summed over the runs: the hostile packets must reach
  // the checks (a session that ignored them unread would also never throw).
  const refused: Record<string, number> = {};
  const tally = (dropped: Record<string, number>): void => { for (const [k, n] of Object.entries(dropped)) refused[k] = (refused[k] ?? 0) + n; };
  for (let run = 0; run < 40; run++) {
    const s = sender({ minReceivers: 2 });
    const rs = [receiver(0), receiver(1)];
    let now = 0;
    const victims = [(b: Buffer, from: Endpoint) => s.handlePacket(b, from, now), ...rs.map((r) => (b: Buffer, from: Endpoint) => r.handlePacket(b, from, now))];
    for (let step = 0; step < 200; step++) {
      now += 5;
      if (step === 2) s.handleInput(Buffer.alloc(20_000, 3), now);
      if (step === 3) s.handleInputEnd(now);
      for (let k = 0; k < 5; k++) {
        const from = pick([SENDER, { address: '192.0.2.9', port: 5000 }, { address: '192.0.2.9', port: 5001 }, { address: '198.51.100.7', port: 1 }]);
        pick(victims)(hostile(), from);
      }
      exchange(s, rs, now);
    }
    for (const r of rs) r.handleSinksFinished(true, -1, '', now);
    for (let step = 0; step < 400 && !(s.isFinished && rs.every((r) => r.isFinished)); step++) { now += 50; exchange(s, rs, now); }
    t.ok(s.isFinished, `run ${run}: the sender ended`, { state: s.currentState, report: JSON.stringify(s.report()).slice(0, 1500), rs: rs.map((r) => [r.currentState, r.result?.code, JSON.stringify(r.stats())]) });
    for (const r of rs) t.ok(r.isFinished, `run ${run}: receiver ended (${r.result?.code})`);
    tally(s.dropped); for (const r of rs) tally(r.dropped);
  }
  // Each of these the generator produces on purpose: another session id, another source
  // address, a cookie the sender never gave, a receiver id it never handed out.
  for (const reason of ['foreign-session', 'foreign-sender', 'bad-cookie', 'unknown-receiver']) t.ok((refused[reason] ?? 0) > 0, `hostile packets refused as ${reason}: ${refused[reason] ?? 0}`);
  t.comment(`refused: ${JSON.stringify(refused)}`);
});

t.test('flow control: new data waits for the slowest receiver to read, and a STATUS lets it go', async (t) => {
  const FLOW = 64 * 1024;
  const s = sender({ windowBytes: 1 << 20, minReceivers: 2 });
  const fast = receiver(0, 0, { flowWindowBytes: 1 << 20 });
  const slow = receiver(1, 0, { flowWindowBytes: FLOW });
  exchange(s, [fast, slow], 0);
  exchange(s, [fast, slow], 40); // the first STATUS tells the sender each receiver's window
  t.equal(s.currentState, 'sending');
  const input = Buffer.alloc(512 * 1024, 7);
  s.handleInput(input, 41);
  // Nothing reaches the receivers yet: count what the sender lets out on its own.
  const out: Buffer[] = [];
  for (let tx = s.pollTransmit(42); tx; tx = s.pollTransmit(42)) out.push(tx.bytes);
  const dataBytes = out.map((b) => decodePacket(b)).reduce((a, r) => a + (r.ok && r.packet.type === PacketType.Data ? r.packet.payload.length : 0), 0);
  t.ok(dataBytes > 0 && dataBytes <= FLOW, `in flight ${dataBytes} <= the slow receiver's window ${FLOW}`);
  t.ok(s.pollTimeoutMs(42) > 0, 'blocked on flow control, the sender does not ask to run again at once');
  // The slow receiver reads what was sent: its STATUS moves the limit.
  for (const b of out) { fast.handlePacket(b, SENDER, 43); slow.handlePacket(b, SENDER, 43); }
  slow.handleTimeout(50);
  const status = slow.pollTransmit(50);
  const st = status && decodePacket(status.bytes);
  t.ok(st && st.ok && st.packet.type === PacketType.Status && st.packet.receivedEndOffset === dataBytes && st.packet.flowWindowBytes === FLOW,
    'the STATUS says how far it has read and its window');
  s.handlePacket((status as { bytes: Buffer }).bytes, { address: '192.0.2.9', port: 5001 }, 50);
  let firstNew: number | null = null; // heartbeats may come first
  for (let tx = s.pollTransmit(50); tx && firstNew === null; tx = s.pollTransmit(50)) {
    const m = decodePacket(tx.bytes);
    if (m.ok && m.packet.type === PacketType.Data) firstNew = m.packet.offset;
  }
  t.equal(firstNew, dataBytes, 'new data flows again, from where it stopped');
  // And the whole stream still completes.
  s.handleInputEnd(51);
  let now = 51;
  for (let i = 0; i < 2000 && !(fast.isVerified && slow.isVerified); i++) { exchange(s, [fast, slow], now); now += 5; }
  t.ok(fast.isVerified && slow.isVerified, 'both receivers verified the stream');
});

t.test('a packet one receiver lost is repaired by unicast to it; one several lost goes to the group', async (t) => {
  const s = sender({ minReceivers: 3, maxWaitMinReceivers: 3 });
  const rs = [receiver(0), receiver(1), receiver(2)];
  exchange(s, rs, 0);
  t.equal(s.currentState, 'sending');
  s.handleInput(Buffer.alloc(6000, 3), 1);
  s.handleInputEnd(1);
  // First pass: receiver 1 misses offset 2000; receivers 1 and 2 miss offset 4000.
  const lost = (i: number, offset: number): boolean => (offset === 2000 && i === 1) || (offset === 4000 && i >= 1);
  for (let tx = s.pollTransmit(2); tx; tx = s.pollTransmit(2)) {
    const m = decodePacket(tx.bytes);
    const offset = m.ok && m.packet.type === PacketType.Data ? m.packet.offset : -1;
    rs.forEach((r, i) => { if (tx && !lost(i, offset)) r.handlePacket(tx.bytes, SENDER, 2); });
  }
  // From here on nothing is lost; record where each repair goes.
  const repairs: string[] = [];
  let now = 3;
  for (let step = 0; step < 400 && !rs.every((r) => r.isVerified); step++, now += 5) {
    s.handleTimeout(now);
    for (let tx = s.pollTransmit(now); tx; tx = s.pollTransmit(now)) {
      const m = decodePacket(tx.bytes);
      if (m.ok && m.packet.type === PacketType.Data) repairs.push(`${m.packet.offset}->${tx.to ? tx.to.port : 'group'}`);
      rs.forEach((r, i) => { if (tx && (tx.to === null || tx.to.port === 5000 + i)) r.handlePacket(tx.bytes, SENDER, now); });
    }
    rs.forEach((r, i) => {
      r.handleTimeout(now);
      while (r.pollDelivery(now)) { /* drain */ }
      for (let tx = r.pollTransmit(now); tx; tx = r.pollTransmit(now)) s.handlePacket(tx.bytes, { address: '192.0.2.9', port: 5000 + i }, now);
    });
  }
  t.ok(rs.every((r) => r.isVerified), 'every receiver verified the stream');
  t.same([...new Set(repairs)].sort(), ['2000->5001', '4000->group'], `repairs: ${repairs.join(', ')}`);
});
