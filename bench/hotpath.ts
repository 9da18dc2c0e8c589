// `node dist/bench/hotpath.js [MTU] [MIB]`: the CPU dbcast's own code spends per GiB, without the
// network: a SenderSession and a ReceiverSession wired together in one process, every DATA
// datagram copied into a fresh buffer as dgram hands one over, delivered bytes gathered by the
// receiver's Fanout into a sink that drops them. Sender side (input -> packets -> pollTransmit)
// and receiver side (handlePacket -> pollDelivery -> Fanout) are timed apart with
// process.cpuUsage. What it leaves out (sockets, Node's dgram, the pipe) is the same for every
// change to our code, so before/after figures of a cut are comparable here when the bed is too
// noisy; run with --cpu-prof to see where the time goes.
import { randomBytes } from 'crypto';
import {
  DATA_OVERHEAD_BYTES, IP_UDP_OVERHEAD_BYTES, PacketType, RECEIVER_TIMING_DEFAULTS, ReceiverSession, SENDER_TIMING_DEFAULTS, SenderSession,
  decodePacket, type Endpoint,
} from '../protocol';
import { Fanout } from '../receiver/sinks/fanout';
import type { Sink } from '../receiver/sinks/sink';

const MTU = Number(process.argv[2] ?? 1500);
const MIB = Number(process.argv[3] ?? 256);
const SENDER: Endpoint = { address: '192.0.2.1', port: 4000 };
const RECEIVER: Endpoint = { address: '192.0.2.2', port: 5000 };
const payloadBytes = MTU - IP_UDP_OVERHEAD_BYTES - DATA_OVERHEAD_BYTES;
const windowBytes = 64 * 1024 * 1024;

const s = new SenderSession({
  ...SENDER_TIMING_DEFAULTS, sessionId: randomBytes(8).toString('hex'), job: 'j', payloadBytes, windowBytes,
  minReceivers: 1, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 0, maxRateBitsPerSec: 1e15,
  dropAfterMs: 0, idleTimeoutMs: 60_000, cookieSecret: randomBytes(32),
}, 0);
const r = new ReceiverSession({
  ...RECEIVER_TIMING_DEFAULTS, name: 'r', job: 'j', maxWindowBytes: 1 << 30, random: randomBytes,
  startTimeoutMs: 0, idleTimeoutMs: 60_000, flowWindowBytes: 2 * 1024 * 1024,
}, 0);

let sunk = 0;
const nullSink: Sink = {
  label: 'null', write: (c: Buffer, written?: () => void) => { sunk += c.length; written?.(); return true; },
  onDrain: () => undefined, onFailure: () => undefined, finish: async () => null, abort: async () => undefined,
};
const fanout = new Fanout([nullSink], () => undefined);

const input = randomBytes(8 * 1024 * 1024); // cycled: the hash and copies see real bytes
const total = MIB * 1024 * 1024;
let fed = 0;
let senderUs = 0;
let receiverUs = 0;
let now = 1;
let senderFaults = 0;
let receiverFaults = 0;
const faultsNow = (): number => process.resourceUsage().minorPageFault;
const time = (f: () => void): number => { const t = process.cpuUsage(); f(); const d = process.cpuUsage(t); return d.user + d.system; };

// Handshake and transfer: alternate sides until the receiver verified the stream.
for (let round = 0; !r.isVerified && round < 50_000_000; round++) {
  const toReceiver: Buffer[] = [];
  let f0 = faultsNow();
  senderUs += time(() => {
    s.handleTimeout(now);
    while (fed < total && s.inputSpaceBytes() > 0) {
      const n = Math.min(256 * 1024, s.inputSpaceBytes(), total - fed);
      const at = fed % input.length;
      s.handleInput(input.subarray(at, Math.min(input.length, at + n)), now);
      fed += Math.min(n, input.length - at);
      if (fed === total) s.handleInputEnd(now);
    }
    for (let t = s.pollTransmit(now); t && toReceiver.length < 4096; t = s.pollTransmit(now)) toReceiver.push(t.bytes);
  });
  senderFaults += faultsNow() - f0;
  const datagrams = toReceiver.map((b) => Buffer.from(b)); // dgram: a fresh buffer per datagram, not ours
  const toSender: Buffer[] = [];
  f0 = faultsNow();
  receiverUs += time(() => {
    for (const b of datagrams) r.handlePacket(b, SENDER, now);
    r.handleTimeout(now);
    for (let c = r.pollDelivery(now); c; c = r.pollDelivery(now)) fanout.write(c, now);
    fanout.flush(now);
    for (let t = r.pollTransmit(now); t; t = r.pollTransmit(now)) toSender.push(t.bytes);
  });
  receiverFaults += faultsNow() - f0;
  f0 = faultsNow();
  senderUs += time(() => { for (const b of toSender) s.handlePacket(b, RECEIVER, now); });
  senderFaults += faultsNow() - f0;
  now += 1;
}
fanout.flush(now, true);
if (!r.isVerified || sunk !== total) { process.stderr.write(`hotpath: not verified (${sunk} of ${total} bytes)\n`); process.exit(1); }
void decodePacket; void PacketType;
const gib = total / 2 ** 30;
// Page faults: the cost of touching fresh memory, which CPU time on a busy machine hides in noise.
process.stdout.write(`MTU ${MTU}, ${MIB} MiB: sender ${(senderUs / 1e6 / gib).toFixed(3)} CPU s/GiB, receiver ${(receiverUs / 1e6 / gib).toFixed(3)} CPU s/GiB (dbcast's own code, no sockets); minor page faults/GiB sender ${Math.round(senderFaults / gib)} receiver ${Math.round(receiverFaults / gib)}\n`);
