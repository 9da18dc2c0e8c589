// A hostile host on the segment (run inside a test-bed namespace): it joins the group, keeps
// what it sees, and, with `flood`, sends garbage, replays, bit-flipped copies and forged
// plaintext ABORT/END packets to the group and to the sender's port. On SIGTERM it prints
// what it saw and sent as JSON on stdout.
// Usage: attacker.ts GROUP PORT OWN_ADDRESS MARKER listen|flood
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import { AbortReason, PacketType, encodePacket } from '../../protocol';

const [group, portText, own, marker, mode] = process.argv.slice(2);
const port = Number(portText);
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const captured: Buffer[] = [];
let capturedBytes = 0;
let markerSeen = false;
let sender: dgram.RemoteInfo | null = null;
const sent = { garbage: 0, replayed: 0, flipped: 0, forged: 0 };
const needle = Buffer.from(marker);

sock.on('message', (msg, rinfo) => {
  if (rinfo.address === own) return;
  sender ??= rinfo;
  capturedBytes += msg.length;
  if (msg.includes(needle)) markerSeen = true;
  if (captured.length < 2000) captured.push(Buffer.from(msg));
});

sock.bind(port, group, () => {
  sock.addMembership(group, own);
  sock.setMulticastInterface(own);
  process.stderr.write('listening\n'); // the test starts the transfer only now
  if (mode !== 'flood') return;
  setInterval(() => {
    if (!sender || captured.length === 0) return;
    const to = (b: Buffer): void => {
      sock.send(b, port, group);
      sock.send(b, (sender as dgram.RemoteInfo).port, (sender as dgram.RemoteInfo).address);
    };
    for (let i = 0; i < 20; i++) {
      const pick = captured[Math.floor(Math.random() * captured.length)];
      to(randomBytes(1 + Math.floor(Math.random() * 1400))); sent.garbage++;
      to(pick); sent.replayed++;
      const flipped = Buffer.from(pick); flipped[Math.floor(Math.random() * flipped.length)] ^= 0x10; to(flipped); sent.flipped++;
    }
    // Plaintext control packets for the session whose id the envelope shows in clear.
    const sid = captured[0].subarray(3, 11).toString('hex');
    to(Buffer.from(encodePacket({ type: PacketType.Abort, sessionId: sid, reason: AbortReason.InputFailed, message: 'forged' })));
    to(Buffer.from(encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: 1, sha256: randomBytes(32), senderTimeMs: Date.now() })));
    sent.forged += 2;
  }, 5);
});

process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ capturedBytes, markerSeen, sent })}\n`, () => process.exit(0));
});
