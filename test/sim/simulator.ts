// Deterministic network simulation: one SenderSession and N ReceiverSessions exchange real
// encoded packets over simulated links (loss, bursts, reordering, duplication, corruption,
// delay) on a virtual clock. Everything random comes from one seed.
import { createHash } from 'crypto';
import {
  AbortReason, DropReason, PacketType, WelcomeVerdict, ReceiverSession, RECEIVER_TIMING_DEFAULTS, SENDER_TIMING_DEFAULTS, SenderSession,
  crc32, encodeDataPacket, encodePacket, type Endpoint, type ReceiverOutcome, type SenderReport, type Transmit,
} from '../../protocol';
import { Heap } from './heap';
import { Rng } from './rng';

export interface LinkProfile {
  lossRate: number;
  /** Gilbert-Elliott bursts: chance per packet to enter / leave the bad state. */
  burstEnter: number;
  burstExit: number;
  burstLossRate: number;
  dupRate: number;
  reorderRate: number;
  reorderDelayMs: number;
  corruptRate: number;
  delayMs: number;
  jitterMs: number;
}

export const CLEAN_LINK: LinkProfile = {
  lossRate: 0, burstEnter: 0, burstExit: 1, burstLossRate: 0, dupRate: 0, reorderRate: 0,
  reorderDelayMs: 0, corruptRate: 0, delayMs: 0.2, jitterMs: 0,
};

export interface SimReceiverSpec {
  name: string;
  link: LinkProfile;
  /** How fast this receiver's sink drains (bytes per virtual ms). */
  consumerBytesPerMs: number;
  /** Crash (stop processing for good) once this fraction of the input was delivered. */
  crashAtFraction?: number;
  sinkExitCode: number;
  sinkDelayMs: number;
  clockSkewMs: number;
}

export interface Scenario {
  seed: number;
  family: string;
  inputBytes: number;
  inputChunkBytes: number;
  payloadBytes: number;
  windowBytes: number;
  maxRateBitsPerSec: number;
  dropAfterMs: number;
  idleTimeoutMs: number;
  minReceivers: number;
  receivers: SimReceiverSpec[];
  senderCrashAtFraction?: number;
  inputFailAtFraction?: number;
  /** A hostile host on the segment (no key): sees the multicast traffic, and every attackEveryMs
   *  sends replays, resealed mutations, garbage and forged packets of every type from its own
   *  address to the sender and the receivers. Receivers are named (only they may join) and
   *  pinned to the sender's address, as the README asks for keyless use on an untrusted segment. */
  attackEveryMs?: number;
  /** Keep every packet the sender sends (SimResult.senderPackets): a recording to replay. */
  record?: boolean;
  /** Packets of an earlier, complete session, replayed into the receivers from the sender's own
   *  address (a keyless attacker spoofing the pinned sender, or a keyed recording replayed
   *  whole) every replayEveryMs, in order, looping, from the start of the run. */
  replay?: { packets: Buffer[]; everyMs: number };
  timeLimitMs: number;
}

export interface SimReceiverResult {
  name: string;
  crashed: boolean;
  finished: boolean;
  outcome: ReceiverOutcome | null;
  bytes: number;
  outputSha256: string;
  sinkFinalized: boolean;
}

export interface SimResult {
  scenario: Scenario;
  inputSha256: string;
  senderFinished: boolean;
  senderCrashed: boolean;
  report: SenderReport;
  receivers: SimReceiverResult[];
  endMs: number;
  events: number;
  senderPackets?: Buffer[];
}

type Ev =
  | { at: number; seq: number; kind: 'deliver'; node: number; bytes: Buffer; from: Endpoint }
  | { at: number; seq: number; kind: 'wake'; node: number }
  | { at: number; seq: number; kind: 'sink-done'; node: number }
  | { at: number; seq: number; kind: 'attack'; node: number }
  | { at: number; seq: number; kind: 'replay'; node: number; index: number };

interface RxNode {
  spec: SimReceiverSpec;
  session: ReceiverSession;
  endpoint: Endpoint;
  crashed: boolean;
  budget: number;
  lastConsumeMs: number;
  hash: ReturnType<typeof createHash>;
  bytes: number;
  sinkStarted: boolean;
  sinkFinalized: boolean;
  inBurst: boolean;
  upInBurst: boolean;
}

const SENDER_EP: Endpoint = { address: 'sim-sender', port: 1 };
/** Every host's clock reads the simulated time plus an offset: the sender's this one, each
 *  receiver's this one plus its skew (so no clock is ever negative). */
const SENDER_CLOCK_MS = 1_000_000;
const MAX_EVENTS = 20_000_000;

export function runScenario(sc: Scenario): SimResult {
  const rng = new Rng(sc.seed * 7919 + 17);
  const input = new Rng(sc.seed).bytes(sc.inputBytes);
  const inputSha256 = createHash('sha256').update(input).digest('hex');
  let now = 0;
  let seq = 0;
  const heap = new Heap<Ev>();
  const push = (e: Ev extends infer E ? (E extends unknown ? Omit<E, 'seq'> : never) : never): void => heap.push({ ...e, seq: seq++ } as Ev);
  // One pending wake per node: a later wake supersedes nothing, an earlier one replaces it.
  const wakeAt: number[] = new Array(sc.receivers.length + 1).fill(Infinity);
  const scheduleWake = (node: number, waitMs: number): void => {
    if (!Number.isFinite(waitMs)) return;
    const at = now + Math.max(waitMs, 0.01);
    if (at < wakeAt[node]) { wakeAt[node] = at; push({ at, kind: 'wake', node }); }
  };

  const sender = new SenderSession({
    ...SENDER_TIMING_DEFAULTS,
    sessionId: rng.sessionId(), job: 'sim', payloadBytes: sc.payloadBytes, windowBytes: sc.windowBytes,
    minReceivers: sc.minReceivers, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 5000,
    maxRateBitsPerSec: sc.maxRateBitsPerSec, dropAfterMs: sc.dropAfterMs, idleTimeoutMs: sc.idleTimeoutMs,
    ...(sc.attackEveryMs ? { allowedNames: sc.receivers.map((r) => r.name) } : {}),
    cookieSecret: rng.bytes(32),
  }, now + SENDER_CLOCK_MS);
  const seen: Buffer[] = []; // what the attacker captured off the group
  let senderCrashed = false;
  let inputFed = 0;
  let inputClosed = false;

  const rx: RxNode[] = sc.receivers.map((spec, i) => ({
    spec,
    session: new ReceiverSession({
      ...RECEIVER_TIMING_DEFAULTS,
      name: spec.name, job: 'sim', maxWindowBytes: 1 << 30, random: (n: number) => rng.bytes(n),
      startTimeoutMs: 30_000, idleTimeoutMs: sc.idleTimeoutMs,
      ...(sc.attackEveryMs ? { senderAddress: 'sim-sender' } : {}),
    }, now + spec.clockSkewMs),
    endpoint: { address: `sim-${spec.name}`, port: 2 },
    crashed: false, budget: 0, lastConsumeMs: 0, hash: createHash('sha256'), bytes: 0,
    sinkStarted: false, sinkFinalized: false, inBurst: false, upInBurst: false,
  }));
  const byAddress = new Map(rx.map((r, i) => [r.endpoint.address, i + 1]));

  const linkTransfer = (link: LinkProfile, bytes: Buffer, node: number, from: Endpoint, burstState: { v: boolean }): void => {
    if (burstState.v) { if (rng.chance(link.burstExit)) burstState.v = false; }
    else if (rng.chance(link.burstEnter)) burstState.v = true;
    if (rng.chance(burstState.v ? link.burstLossRate : link.lossRate)) return;
    const copies = rng.chance(link.dupRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let b = Buffer.from(bytes); // each host gets its own copy, as on a real network
      if (rng.chance(link.corruptRate)) {
        const mode = rng.int(0, 2);
        if (mode === 0) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
        else if (mode === 1) b = b.subarray(0, rng.int(0, b.length - 1));
        else b = Buffer.concat([b, rng.bytes(rng.int(1, 16))]);
      }
      let at = now + link.delayMs + rng.next() * link.jitterMs;
      if (rng.chance(link.reorderRate)) at += rng.next() * link.reorderDelayMs;
      push({ at, kind: 'deliver', node, bytes: b, from });
    }
  };

  const senderPackets: Buffer[] = [];
  const route = (t: Transmit, fromNode: number): void => {
    if (sc.attackEveryMs && t.to === null && seen.length < 512) seen.push(Buffer.from(t.bytes));
    if (sc.record && fromNode === 0) senderPackets.push(Buffer.from(t.bytes));
    if (fromNode === 0) {
      const targets = t.to === null ? rx.map((_, i) => i + 1) : [byAddress.get(t.to.address) ?? -1];
      for (const n of targets) {
        if (n < 1) continue;
        const r = rx[n - 1];
        const st = { v: r.inBurst };
        linkTransfer(r.spec.link, t.bytes, n, SENDER_EP, st);
        r.inBurst = st.v;
      }
    } else {
      const r = rx[fromNode - 1];
      const st = { v: r.upInBurst };
      linkTransfer(r.spec.link, t.bytes, 0, r.endpoint, st);
      r.upInBurst = st.v;
    }
  };

  const stepSender = (): void => {
    if (senderCrashed) return;
    if (sc.senderCrashAtFraction !== undefined && sender.bytesAcknowledged >= sc.senderCrashAtFraction * sc.inputBytes && sender.currentState === 'sending') {
      senderCrashed = true;
      return;
    }
    while (!inputClosed) {
      const failNow = sc.inputFailAtFraction !== undefined
        && (inputFed >= sc.inputFailAtFraction * sc.inputBytes || inputFed >= input.length);
      if (failNow) {
        // Like a dump command that exits non-zero; held until the transfer started.
        if (sender.currentState !== 'waiting') { sender.handleInputFailed('simulated dump failure: exit status 1', now + SENDER_CLOCK_MS); inputClosed = true; }
        break;
      }
      const space = sender.inputSpaceBytes();
      if (space <= 0) break;
      if (inputFed >= input.length) { sender.handleInputEnd(now + SENDER_CLOCK_MS); inputClosed = true; break; }
      const n = Math.min(space, sc.inputChunkBytes, input.length - inputFed);
      sender.handleInput(input.subarray(inputFed, inputFed + n), now + SENDER_CLOCK_MS);
      inputFed += n;
    }
    for (let t = sender.pollTransmit(now + SENDER_CLOCK_MS); t; t = sender.pollTransmit(now + SENDER_CLOCK_MS)) route(t, 0);
    while (sender.pollEvent()) { /* events are for logs */ }
    scheduleWake(0, sender.pollTimeoutMs(now + SENDER_CLOCK_MS));
  };

  const stepReceiver = (i: number): void => {
    const r = rx[i - 1];
    if (r.crashed) return;
    const local = now + r.spec.clockSkewMs;
    const s = r.session;
    if (r.spec.crashAtFraction !== undefined && r.bytes >= r.spec.crashAtFraction * sc.inputBytes && sc.inputBytes > 0) {
      r.crashed = true;
      return;
    }
    r.budget = Math.min(r.budget + (now - r.lastConsumeMs) * r.spec.consumerBytesPerMs, 4 * sc.payloadBytes + 1);
    r.lastConsumeMs = now;
    while (r.budget > 0) {
      const chunk = s.pollDelivery(local);
      if (!chunk) break;
      r.budget -= chunk.length;
      r.hash.update(chunk);
      r.bytes += chunk.length;
    }
    if (s.isVerified && !r.sinkStarted) {
      r.sinkStarted = true;
      push({ at: now + r.spec.sinkDelayMs, kind: 'sink-done', node: i });
    }
    for (let t = s.pollTransmit(local); t; t = s.pollTransmit(local)) route(t, i);
    while (s.pollEvent()) { /* events are for logs */ }
    let wait = s.pollTimeoutMs(local);
    if (s.bytesReady > 0 && r.budget <= 0) wait = Math.min(wait, (1 - r.budget) / r.spec.consumerBytesPerMs);
    scheduleWake(i, wait);
  };

  const step = (node: number): void => { if (node === 0) stepSender(); else stepReceiver(node); };
  const allDone = (): boolean =>
    (senderCrashed || sender.isFinished) && rx.every((r) => r.crashed || r.session.isFinished);

  const ATTACKER: Endpoint = { address: 'sim-attacker', port: 9 };
  const attack = (): void => {
    const sid = sender.report().sessionId;
    const victims = [0, ...rx.map((_, i) => i + 1)];
    const reseal = (b: Buffer): Buffer => { b.writeUInt32BE(crc32(b.subarray(0, b.length - 4)), b.length - 4); return b; };
    const forged: Buffer[] = [
      encodePacket({ type: PacketType.Abort, sessionId: sid, reason: AbortReason.InputFailed, message: 'forged' }),
      encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: 1, sha256: rng.bytes(32), senderTimeMs: now }),
      encodePacket({ type: PacketType.Drop, sessionId: sid, receiverId: rng.int(1, rx.length), reason: DropReason.Silent }),
      encodePacket({ type: PacketType.DoneAck, sessionId: sid, receiverId: rng.int(1, rx.length) }),
      encodePacket({ type: PacketType.Join, sessionId: sid, challenge: rng.bytes(16), cookie: rng.bytes(16), receiverTimeMs: now, echoSenderTimeMs: now, name: 'intruder' }),
      encodePacket({ type: PacketType.Join, sessionId: sid, challenge: rng.bytes(16), cookie: Buffer.alloc(16), receiverTimeMs: now, echoSenderTimeMs: now, name: rng.pick(sc.receivers).name }),
      encodePacket({ type: PacketType.Welcome, sessionId: sid, challenge: rng.bytes(16), cookie: rng.bytes(16), receiverId: rng.int(1, rx.length), verdict: WelcomeVerdict.Admitted, refusal: 0, echoReceiverTimeMs: now, senderTimeMs: now + SENDER_CLOCK_MS }),
      encodePacket({ type: PacketType.Status, sessionId: sid, receiverId: rng.int(1, rx.length), cookie: rng.bytes(16), deliveredOffset: 1 << 30, contiguousOffset: 1 << 30, receivedEndOffset: 1 << 30, flowWindowBytes: 1 << 20, echoSenderTimeMs: now, holdMs: 0, naks: [] }),
      encodeDataPacket(sid, 0, [rng.bytes(64)], 64),
      encodePacket({ type: PacketType.Heartbeat, sessionId: sid, sentEndOffset: 1 << 30, senderTimeMs: now + SENDER_CLOCK_MS, job: 'sim' }),
    ].map((b) => Buffer.from(b));
    const batch = [...forged, rng.bytes(rng.int(1, 200))];
    for (let k = 0; k < 4 && seen.length > 0; k++) {
      const c = Buffer.from(rng.pick(seen));
      batch.push(Buffer.from(c));
      c[rng.int(12, Math.max(12, c.length - 5))] ^= 1 << rng.int(0, 7);
      batch.push(reseal(c));
    }
    for (const b of batch) push({ at: now + rng.next(), kind: 'deliver', node: rng.pick(victims), bytes: b, from: ATTACKER });
    push({ at: now + (sc.attackEveryMs as number), kind: 'attack', node: 0 });
  };
  if (sc.attackEveryMs) push({ at: 1, kind: 'attack', node: 0 });
  if (sc.replay && sc.replay.packets.length > 0) push({ at: 0.5, kind: 'replay', node: 0, index: 0 });

  step(0);
  rx.forEach((_, i) => step(i + 1));
  let events = 0;
  while (heap.size > 0 && !allDone()) {
    const e = heap.pop() as Ev;
    now = Math.max(now, e.at);
    if (now > sc.timeLimitMs || ++events > MAX_EVENTS) break;
    if (e.kind === 'wake') {
      if (e.at !== wakeAt[e.node]) continue; // superseded
      wakeAt[e.node] = Infinity;
    }
    if (e.kind === 'deliver') {
      if (e.node === 0) { if (!senderCrashed) sender.handlePacket(e.bytes, e.from, now + SENDER_CLOCK_MS); }
      else { const r = rx[e.node - 1]; if (!r.crashed) r.session.handlePacket(e.bytes, e.from, now + r.spec.clockSkewMs); }
    } else if (e.kind === 'attack') {
      attack();
      continue;
    } else if (e.kind === 'replay') {
      const rp = sc.replay as { packets: Buffer[]; everyMs: number };
      const b = rp.packets[e.index % rp.packets.length];
      rx.forEach((r, i) => { if (!r.crashed) push({ at: now, kind: 'deliver', node: i + 1, bytes: Buffer.from(b), from: SENDER_EP }); });
      push({ at: now + rp.everyMs, kind: 'replay', node: 0, index: e.index + 1 });
      continue;
    } else if (e.kind === 'sink-done') {
      const r = rx[e.node - 1];
      if (!r.crashed) {
        r.sinkFinalized = r.spec.sinkExitCode === 0;
        r.session.handleSinksFinished(r.spec.sinkExitCode === 0, r.spec.sinkExitCode, r.spec.sinkExitCode === 0 ? '' : `sink exited ${r.spec.sinkExitCode}`, now + r.spec.clockSkewMs);
      }
    }
    step(e.node);
  }

  return {
    scenario: sc, inputSha256, senderFinished: sender.isFinished, senderCrashed,
    report: sender.report(), endMs: now, events, ...(sc.record ? { senderPackets } : {}),
    receivers: rx.map((r) => ({
      name: r.spec.name, crashed: r.crashed, finished: r.session.isFinished, outcome: r.session.result,
      bytes: r.bytes, outputSha256: r.hash.copy().digest('hex'), sinkFinalized: r.sinkFinalized,
    })),
  };
}
