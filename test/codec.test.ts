// Unit tier: every packet type round-trips; truncated, bit-flipped, oversized, foreign or
// out-of-range packets are rejected with a reason, never thrown.
import t from 'tap';
import { randomBytes } from 'crypto';
import {
  AbortReason, DoneStatus, DropReason, MAX_ANNOUNCE_INFO_BYTES, MAX_NAK_RANGES, MIN_JOIN_DATAGRAM_BYTES, PROTOCOL_VERSION, PacketType, RestoreOutcome, WelcomeVerdict, crc32, crc32Package, decodePacket,
  encodeDataPacket, encodePacket, type Packet,
} from '../protocol';
import { PacketSlab } from '../protocol/packet-slab';

const sid = '0123456789abcdef';
const samples: Packet[] = [
  { type: PacketType.Announce, sessionId: sid, senderTimeMs: 1_700_000_000_123, windowBytes: 64 << 20, payloadBytes: 1448, job: 'nightly-app', info: '' },
  { type: PacketType.Join, sessionId: sid, challenge: randomBytes(16), cookie: Buffer.alloc(16), receiverTimeMs: 1_700_000_000_456, echoSenderTimeMs: 1_700_000_000_123, name: 'réplica-1' },
  { type: PacketType.Join, sessionId: sid, challenge: randomBytes(16), cookie: randomBytes(16), receiverTimeMs: 1, echoSenderTimeMs: 2, name: 'r'.repeat(64) },
  { type: PacketType.Welcome, sessionId: sid, challenge: randomBytes(16), cookie: randomBytes(16), receiverId: 7, verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: 5, senderTimeMs: 6 },
  { type: PacketType.Welcome, sessionId: sid, challenge: randomBytes(16), cookie: randomBytes(16), receiverId: 0, verdict: WelcomeVerdict.Validate, refusal: 0, echoReceiverTimeMs: 5, senderTimeMs: 6 },
  { type: PacketType.Welcome, sessionId: sid, challenge: randomBytes(16), cookie: randomBytes(16), receiverId: 0, verdict: WelcomeVerdict.Refused, refusal: DropReason.DuplicateName, echoReceiverTimeMs: 5, senderTimeMs: 6 },
  { type: PacketType.Data, sessionId: sid, offset: 2 ** 40 + 3, payload: randomBytes(1448) },
  { type: PacketType.Heartbeat, sessionId: sid, sentEndOffset: 2 ** 52, senderTimeMs: 9, job: '' },
  { type: PacketType.Status, sessionId: sid, receiverId: 1, cookie: randomBytes(16), deliveredOffset: 10, contiguousOffset: 20, receivedEndOffset: 60, flowWindowBytes: 1 << 21, echoSenderTimeMs: 3, holdMs: 4, naks: [{ start: 30, end: 40 }, { start: 50, end: 2 ** 50 }] },
  { type: PacketType.End, sessionId: sid, totalBytes: 123456789, sha256: randomBytes(32), senderTimeMs: 1 },
  { type: PacketType.Done, sessionId: sid, receiverId: 2, cookie: randomBytes(16), status: DoneStatus.SinkFailed, restoreOutcome: RestoreOutcome.KeptOld, bytes: 99, sinkExitCode: 1, repairsRequested: 12, detail: 'pg_restore: error: could not execute query' },
  { type: PacketType.DoneAck, sessionId: sid, receiverId: 3 },
  { type: PacketType.Abort, sessionId: sid, reason: AbortReason.InputFailed, message: 'pg_dump exited with status 1' },
  { type: PacketType.Drop, sessionId: sid, receiverId: 4, reason: DropReason.Slow },
  { type: PacketType.Announce, sessionId: sid, senderTimeMs: 1, windowBytes: 4096, payloadBytes: 1448, job: 'j', info: '{"compression":"zstd"}' },
];

t.test('every packet type round-trips', async (t) => {
  for (const p of samples) {
    const res = decodePacket(encodePacket(p));
    t.ok(res.ok, `${PacketType[p.type]} decodes`);
    if (res.ok) t.same(res.packet, p, `${PacketType[p.type]} fields survive`);
  }
});

t.test('ANNOUNCE info: bounded, no control characters', async (t) => {
  const announce = samples[0] as Extract<Packet, { type: PacketType.Announce }>;
  t.throws(() => encodePacket({ ...announce, info: 'x'.repeat(MAX_ANNOUNCE_INFO_BYTES + 1) }), 'the encoder refuses info over the limit');
  t.ok(decodePacket(encodePacket({ ...announce, info: 'x'.repeat(MAX_ANNOUNCE_INFO_BYTES) })).ok, 'info at the limit decodes');
  const ctrl = Buffer.from(encodePacket({ ...announce, info: 'a\x1b[2Jb' }));
  t.same(decodePacket(ctrl), { ok: false, reason: 'bad-text' }, 'info with a control character is refused');
});

t.test('the single-copy DATA encoder equals the generic one', async (t) => {
  const payload = randomBytes(3000);
  const a = encodeDataPacket(sid, 4096, [payload.subarray(0, 1000), payload.subarray(1000)], 3000);
  const b = encodePacket({ type: PacketType.Data, sessionId: sid, offset: 4096, payload });
  t.ok(a.equals(b));
});

t.test('zlib CRC-32 equals the crc-32 package', async (t) => {
  for (const n of [0, 1, 13, 1448, 8900, 65000]) {
    const b = randomBytes(n);
    t.equal(crc32(b), crc32Package(b), `${n} bytes`);
  }
});

t.test('every truncation is rejected', async (t) => {
  let rejected = 0; let total = 0;
  for (const p of samples) {
    const bytes = encodePacket(p);
    for (let len = 0; len < bytes.length; len++) {
      total++;
      const res = decodePacket(bytes.subarray(0, len));
      if (!res.ok) rejected++;
      else t.fail(`${PacketType[p.type]} truncated to ${len} bytes was accepted`);
    }
  }
  t.equal(rejected, total, `${total} truncations rejected`);
});

t.test('every single bit flip is rejected', async (t) => {
  let flips = 0; let expected = 0;
  for (const p of samples) {
    const bytes = encodePacket(p);
    expected += Math.min(bytes.length * 8, 4000);
    for (let bit = 0; bit < Math.min(bytes.length * 8, 4000); bit++) {
      const copy = Buffer.from(bytes);
      copy[bit >> 3] ^= 1 << (bit & 7);
      const res = decodePacket(copy);
      if (res.ok) t.fail(`${PacketType[p.type]} with bit ${bit} flipped was accepted`);
      else flips++;
    }
  }
  t.equal(flips, expected, `${flips} flipped packets rejected`);
});

t.test('trailing bytes, oversized and garbage are rejected with reasons', async (t) => {
  const good = encodePacket(samples[0]);
  t.same(decodePacket(Buffer.concat([good, Buffer.from([0])])), { ok: false, reason: 'bad-crc' });
  t.same(decodePacket(Buffer.alloc(70_000)), { ok: false, reason: 'too-long' });
  t.same(decodePacket(Buffer.alloc(3)), { ok: false, reason: 'too-short' });
  t.same(decodePacket(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { ok: false, reason: 'bad-magic' });
  for (const version of [PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
    const other = Buffer.from(good); other[2] = version;
    t.same(decodePacket(reseal(other)), { ok: false, reason: 'bad-version' }, `version ${version}`);
  }
  for (let i = 0; i < 2000; i++) {
    const junk = randomBytes(1 + (i % 200));
    t.notOk(decodePacket(junk).ok, 'random bytes');
  }
});

/** Re-seal a hand-edited packet so only the field checks can reject it. */
function reseal(b: Buffer): Buffer {
  b.writeUInt32BE(crc32(b.subarray(0, b.length - 4)), b.length - 4);
  return b;
}

t.test('well-sealed but invalid fields are rejected', async (t) => {
  const unknown = reseal(Buffer.from(encodePacket(samples[11])));
  unknown[3] = 99; reseal(unknown);
  t.same(decodePacket(unknown), { ok: false, reason: 'unknown-type' });

  const data = Buffer.from(encodePacket({ type: PacketType.Data, sessionId: sid, offset: 0, payload: Buffer.alloc(10) }));
  data.writeUInt32BE(0xffffffff, 12); // offset >= 2^53
  t.same(decodePacket(reseal(data)), { ok: false, reason: 'offset-too-large' });

  const status = (naks: { start: number; end: number }[], contiguous = 20): Buffer => {
    const p = { ...(samples[8] as Extract<Packet, { type: PacketType.Status }>), contiguousOffset: contiguous, naks };
    return Buffer.from(encodePacket(p));
  };
  t.same(decodePacket(status([{ start: 40, end: 30 }])), { ok: false, reason: 'bad-range' }, 'reversed range');
  t.same(decodePacket(status([{ start: 10, end: 30 }])), { ok: false, reason: 'bad-range' }, 'range below contiguous');
  t.same(decodePacket(status([{ start: 30, end: 50 }, { start: 40, end: 60 }])), { ok: false, reason: 'bad-range' }, 'overlapping ranges');
  t.same(decodePacket(status([], 5)), { ok: false, reason: 'bad-field' }, 'delivered beyond contiguous');
  const statusWith = (fields: { receivedEndOffset?: number; flowWindowBytes?: number }): Buffer =>
    Buffer.from(encodePacket({ ...(samples[8] as Extract<Packet, { type: PacketType.Status }>), naks: [], ...fields }));
  t.same(decodePacket(statusWith({ receivedEndOffset: 19 })), { ok: false, reason: 'bad-field' }, 'received end below contiguous');
  t.same(decodePacket(statusWith({ flowWindowBytes: 0 })), { ok: false, reason: 'bad-field' }, 'empty flow window');
  const many = status(Array.from({ length: MAX_NAK_RANGES }, (_, i) => ({ start: 100 + 10 * i, end: 105 + 10 * i })));
  many.writeUInt16BE(MAX_NAK_RANGES + 1, 12 + 60); // after id, cookie, 3 offsets, window, echo, hold
  t.same(decodePacket(reseal(many)), { ok: false, reason: 'too-many-ranges' });
  t.throws(() => encodePacket({ ...(samples[8] as Extract<Packet, { type: PacketType.Status }>), naks: Array.from({ length: MAX_NAK_RANGES + 1 }, (_, i) => ({ start: 100 + 10 * i, end: 105 + 10 * i })) }), 'the encoder refuses too many ranges');

  const done = Buffer.from(encodePacket(samples[10]));
  done[32] = 77; // status byte, after id and cookie
  t.same(decodePacket(reseal(done)), { ok: false, reason: 'bad-field' });
  const badRestore = Buffer.from(encodePacket(samples[10]));
  badRestore[33] = 9; // restore outcome byte
  t.same(decodePacket(reseal(badRestore)), { ok: false, reason: 'bad-field' }, 'unknown restore outcome');

  const join = Buffer.from(encodePacket({ ...(samples[1] as Extract<Packet, { type: PacketType.Join }>), name: 'ab' }));
  const NAME_AT = 12 + 16 + 16 + 8 + 8 + 1;
  join[NAME_AT] = 0xff; // invalid UTF-8 in the name
  t.same(decodePacket(reseal(join)), { ok: false, reason: 'bad-text' });
  const ctrl = Buffer.from(encodePacket({ ...(samples[1] as Extract<Packet, { type: PacketType.Join }>), name: 'a\x1b[2Jb' }));
  t.same(decodePacket(ctrl), { ok: false, reason: 'bad-text' }, 'a control character in a name (it reaches terminals and logs)');
  const padded = Buffer.from(encodePacket({ ...(samples[1] as Extract<Packet, { type: PacketType.Join }>), name: 'ab' }));
  t.equal(padded.length, MIN_JOIN_DATAGRAM_BYTES, 'a JOIN is padded to the minimum size');
  padded[padded.length - 5] = 1;
  t.same(decodePacket(reseal(padded)), { ok: false, reason: 'bad-field' }, 'non-zero padding');
  const short = Buffer.concat([padded.subarray(0, NAME_AT + 2), Buffer.alloc(4)]);
  t.same(decodePacket(reseal(short)), { ok: false, reason: 'bad-length' }, 'an unpadded JOIN (answering it would cost more than it did)');
  const welcome = Buffer.from(encodePacket(samples[3]));
  welcome[12 + 16 + 16 + 4] = 7; // verdict
  t.same(decodePacket(reseal(welcome)), { ok: false, reason: 'bad-field' }, 'unknown WELCOME verdict');
  const admittedNoId = Buffer.from(encodePacket(samples[3]));
  admittedNoId.writeUInt32BE(0, 12 + 32);
  t.same(decodePacket(reseal(admittedNoId)), { ok: false, reason: 'bad-field' }, 'admitted without a receiver id');

  const announce = Buffer.from(encodePacket(samples[0]));
  announce[28] = 200; // job length beyond the packet
  t.same(decodePacket(reseal(announce)), { ok: false, reason: 'bad-length' });
});

t.test('DATA packets carved from a slab are independent and decode like allocated ones', async (t) => {
  const slab = new PacketSlab(4096);
  const payloads = [1448, 1448, 1000, 3000, 5000].map((n, i) => Buffer.alloc(n, i + 1));
  let offset = 0;
  const packets = payloads.map((p) => { const b = encodeDataPacket(sid, offset, [p], p.length, slab.take); offset += p.length; return b; });
  offset = 0;
  packets.forEach((b, i) => {
    t.ok(b.equals(encodeDataPacket(sid, offset, [payloads[i]], payloads[i].length)), `packet ${i} same bytes as without a slab`);
    const d = decodePacket(b);
    t.ok(d.ok && d.packet.type === PacketType.Data && d.packet.payload.equals(payloads[i]), `packet ${i} decodes to its payload`);
    offset += payloads[i].length;
  });
  t.not(packets[0].buffer, packets[3].buffer, 'a new slab once one is full');
  t.equal(packets[0].buffer, packets[1].buffer, 'small packets share a slab');
});

t.test('a slab whose packets were all released is carved again; one with a live packet is not', async (t) => {
  const slab = new PacketSlab(4096);
  const a = slab.take(2000); const b = slab.take(2000); // slab 1 full
  const c = slab.take(3000); // slab 2
  slab.release(a);
  const d = slab.take(3000); // slab 3: slab 1 still holds b
  t.not(d.buffer, a.buffer, 'a slab with a live packet is not carved again');
  slab.release(b);
  const e = slab.take(3000); // slab 4: slab 1, now free
  t.equal(e.buffer, a.buffer, 'the freed slab is used again');
  t.not(e.buffer, c.buffer);
  t.not(e.buffer, d.buffer);
});
