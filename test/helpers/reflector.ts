// A keyless reflection attacker (run inside a test-bed namespace whose nftables rewrite the source
// of everything it sends to the sender to the victim's address). It listens to the group for the
// sender's ANNOUNCE (session id, sender address and port), then sends the sender, for a bounded
// time and at a modest rate (about 100 packets a second):
//   - JOINs under the names it is given (a made-up one, or one the sender's --receivers allows),
//     again and again: fresh random challenge and a zero cookie (protocol 3), or receiver id 1, 2...
//     of its own choosing (protocol 2);
//   - if asked, once at the start, MANY more JOINs under different names (enough to fill a
//     256-receiver table);
//   - STATUS packets for receiver ids 1..4 NAKing [0, 2^50), with random cookies (protocol 3),
// so that, from the sender's point of view, all of it comes from the victim.
// The packets are built with the encodePacket of the tree under test (`dist/protocol` of TREE):
// protocol 3 (challenge, cookie) or the older protocol 2 (receiver-chosen id, no cookie).
// It counts what it sent and the WELCOMEs it sees on the group, and prints that as JSON on
// stdout when its time is up or on SIGTERM.
// Usage: reflector.ts TREE GROUP PORT OWN_ADDRESS DURATION_MS JOIN_NAMES MANY
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import * as path from 'path';

const [tree, group, portText, own, durationText, namesText, manyText] = process.argv.slice(2);
const port = Number(portText);
const durationMs = Number(durationText);
const names = namesText ? namesText.split(',').filter(Boolean) : [];
const many = Number(manyText ?? 0);

// The codec of the tree under test, loosely typed: protocol 2 and 3 packets differ.
type Codec = { encodePacket(p: Record<string, unknown>): Buffer; decodePacket(b: Buffer): { ok: boolean; packet?: Record<string, unknown> } };
/* eslint-disable @typescript-eslint/no-require-imports */
const codec = require(path.join(tree, 'dist', 'protocol', 'codec.js')) as Codec;
const constants = require(path.join(tree, 'dist', 'protocol', 'constants.js')) as { PROTOCOL_VERSION: number; PacketType: Record<string, number> };
/* eslint-enable @typescript-eslint/no-require-imports */
const version = constants.PROTOCOL_VERSION;
const T = constants.PacketType;

const sent = { joinsManyNames: 0, joinsNamed: 0, status: 0, packets: 0, udpPayloadBytes: 0 };
const seen = { groupWelcomes: 0, groupBytes: 0, announces: 0 };
let target: { address: string; port: number; sessionId: string; senderTimeMs: number } | null = null;
let started = 0;

const listen = dgram.createSocket({ type: 'udp4', reuseAddr: true });
// Forged packets leave from their own socket (never a member of the group); nftables turns their
// source into the victim's address on the way out.
const forge = dgram.createSocket('udp4');

listen.on('message', (msg, rinfo) => {
  seen.groupBytes += msg.length;
  if (msg.length < 12) return;
  if (msg[3] === T.Welcome) seen.groupWelcomes++;
  if (msg[3] !== T.Announce) return;
  const res = codec.decodePacket(msg);
  if (!res.ok || !res.packet) return;
  seen.announces++;
  const sessionId = res.packet.sessionId as string;
  const senderTimeMs = res.packet.senderTimeMs as number;
  if (!target) { target = { address: rinfo.address, port: rinfo.port, sessionId, senderTimeMs }; attack(); }
  else if (target.sessionId === sessionId) target.senderTimeMs = senderTimeMs;
});

function send(b: Buffer, kind: 'joinsManyNames' | 'joinsNamed' | 'status'): void {
  if (!target) return;
  forge.send(b, target.port, target.address);
  sent[kind]++; sent.packets++; sent.udpPayloadBytes += b.length;
}

function join(name: string, receiverId: number): Buffer {
  const t = target as NonNullable<typeof target>;
  const common = { type: T.Join, sessionId: t.sessionId, receiverTimeMs: Date.now(), echoSenderTimeMs: t.senderTimeMs, name };
  return version >= 3
    ? codec.encodePacket({ ...common, challenge: randomBytes(16), cookie: Buffer.alloc(16) })
    : codec.encodePacket({ ...common, receiverId });
}

function status(receiverId: number): Buffer {
  const t = target as NonNullable<typeof target>;
  const p = {
    type: T.Status, sessionId: t.sessionId, receiverId, deliveredOffset: 0, contiguousOffset: 0, receivedEndOffset: 0,
    flowWindowBytes: 0x7fffffff, echoSenderTimeMs: 0, holdMs: 0, naks: [{ start: 0, end: 2 ** 50 }],
  };
  return codec.encodePacket(version >= 3 ? { ...p, cookie: randomBytes(16) } : p);
}

function attack(): void {
  started = Date.now();
  // Protocol 2 lets the joiner choose its id: the named JOINs take ids 1, 2..., which the STATUS
  // packets claim; the many others take ids from 1000 (no STATUS: they only take slots).
  names.forEach((name, i) => send(join(name, i + 1), 'joinsNamed'));
  for (let i = 0; i < many; i++) send(join(`forged-${String(i).padStart(3, '0')}`, 1000 + i), 'joinsManyNames');
  // 80 STATUS a second from here on, and the named JOINs again 20 times a second.
  const tick = setInterval(() => {
    if (Date.now() - started >= durationMs) { clearInterval(tick); finish(); return; }
    for (let id = 1; id <= 4; id++) send(status(id), 'status');
    names.forEach((name, i) => send(join(name, i + 1), 'joinsNamed'));
  }, 50);
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  const out = { version, target, sent, seen, attackMs: started ? Date.now() - started : 0 };
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}

forge.bind(0, own, () => {
  listen.bind(port, group, () => {
    listen.addMembership(group, own);
    process.stderr.write('listening\n'); // the test starts the sender only now
  });
});
process.on('SIGTERM', finish);
// Bounded whatever happens: no announce within a minute ends it too.
setTimeout(finish, 60_000 + durationMs).unref();
