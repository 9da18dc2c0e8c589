// Deterministic network simulation: one SenderSession and N ReceiverSessions exchange real
// encoded packets over simulated links (see link.ts) on a virtual clock, with partitions,
// receiver restarts, socket buffers, a bottleneck, forged DATA and hostile hosts. Everything
// random comes from one seed; what happened is counted from the packets (see ledger.ts).
import { createHash } from 'crypto';
import {
  PacketType, ReceiverSession, RECEIVER_TIMING_DEFAULTS, SENDER_TIMING_DEFAULTS, SenderSession, decodePacket, formatEndpoint,
  frameBytes, type Endpoint, type Packet, type ReceiverOutcome, type SenderReport, type Transmit,
} from '../../protocol';
import { attackBatch, forgeData } from './attacker';
import { Heap } from './heap';
import { AheadTracker, SentIndex, newMetrics, type SimMetrics } from './ledger';
import {
  Bottleneck, SocketBuffer, carry, lose, newLinkState, type BottleneckSpec, type LinkProfile, type LinkState, type SocketSpec,
} from './link';
import { Rng } from './rng';

export { CLEAN_LINK, type LinkProfile } from './link';

export interface SimReceiverSpec {
  name: string;
  /** sender -> this receiver */
  link: LinkProfile;
  /** this receiver -> sender (STATUS, JOIN, DONE) */
  controlLink: LinkProfile;
  /** How fast this receiver's sink drains (bytes per virtual ms). */
  consumerBytesPerMs: number;
  /** Crash (stop processing) once this fraction of the input was delivered. */
  crashAtFraction?: number;
  /** After the crash, a new process with the same name starts this long later (on a new port). */
  restartAfterMs?: number;
  /** A socket buffer of limited size read by a CPU of limited speed; unset: unlimited. */
  socket?: SocketSpec;
  sinkExitCode: number;
  sinkDelayMs: number;
  clockSkewMs: number;
}

/** Cut the named receivers (all of them when `nodes` is empty) off in both directions once the
 *  first of them delivered atFraction of the input, for durationMs. */
export interface PartitionSpec { nodes: string[]; atFraction: number; durationMs: number }

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
  partitions?: PartitionSpec[];
  bottleneck?: BottleneckSpec;
  /** Loss on the sender's own uplink, before the fan-out: every receiver loses the same packets. */
  uplinkLoss?: LinkProfile;
  /** First-send DATA packet numbers of which a forged copy (same offset, other bytes, correct CRC,
   *  from the sender's address) reaches the receiver at the same index in forgeVictims first. */
  forgeAtPackets?: number[];
  forgeVictims?: number[];
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
  /** A second sender of the same job (split brain: the old primary's cron after a failover),
   *  starting at startAtMs with other bytes. Its group packets reach the receivers over their
   *  forward links; with ears, each sender hears the other's group packets over `earLink`. */
  rival?: { startAtMs: number; ears: boolean; earLink: LinkProfile };
  timeLimitMs: number;
}

/** One receiver process; a restarted receiver has one result per process (incarnation). */
export interface SimReceiverResult {
  name: string;
  incarnation: number;
  crashed: boolean;
  finished: boolean;
  finishedAtMs: number | null;
  /** The sender admitted it (it got an id for the real session). */
  admitted: boolean;
  outcome: ReceiverOutcome | null;
  bytes: number;
  outputSha256: string;
  sinkFinalized: boolean;
  /** Its stream verified (the sinks were told to finish). */
  verified: boolean;
}

export interface SimResult {
  scenario: Scenario;
  inputSha256: string;
  sessionId: string;
  senderFinished: boolean;
  senderCrashed: boolean;
  report: SenderReport;
  receivers: SimReceiverResult[];
  endMs: number;
  events: number;
  metrics: SimMetrics;
  senderPackets?: Buffer[];
  /** The rival sender's report (scenarios with a rival, once it started). */
  rivalReport?: SenderReport;
  rivalFinished?: boolean;
}

/** What the simulator knows of a datagram it carries (decoded once, when it was sent). */
type Meta = Packet | null;

type Ev =
  | { at: number; seq: number; kind: 'deliver'; node: number; from: Endpoint; fromNode: number; bytes: Buffer; meta: Meta }
  | { at: number; seq: number; kind: 'wake'; node: number }
  | { at: number; seq: number; kind: 'process'; node: number }
  | { at: number; seq: number; kind: 'sink-done'; node: number; incarnation: number }
  | { at: number; seq: number; kind: 'attack'; node: number }
  | { at: number; seq: number; kind: 'replay'; node: number; index: number }
  | { at: number; seq: number; kind: 'heal'; node: number; partition: number }
  | { at: number; seq: number; kind: 'restart'; node: number }
  | { at: number; seq: number; kind: 'rival-start'; node: number }
  /** A sender's group packet heard by the other sender (split brain). */
  | { at: number; seq: number; kind: 'ear'; node: number; from: Endpoint; bytes: Buffer };

interface Incarnation {
  index: number;
  session: ReceiverSession;
  endpoint: Endpoint;
  key: string;
  crashed: boolean;
  admitted: boolean;
  finishedAtMs: number | null;
  hash: ReturnType<typeof createHash>;
  bytes: number;
  sinkStarted: boolean;
  sinkFinalized: boolean;
  /** DATA offsets of the real session this process has read. */
  received: Set<number>;
  ahead: AheadTracker;
}

interface RxNode {
  spec: SimReceiverSpec;
  cur: Incarnation;
  past: Incarnation[];
  budget: number;
  lastConsumeMs: number;
  down: LinkState;
  up: LinkState;
  socket: SocketBuffer<Extract<Ev, { kind: 'deliver' }>> | null;
  cpuFreeAtMs: number;
  processPending: boolean;
  cut: boolean;
}

const SENDER_EP: Endpoint = { address: 'sim-sender', port: 1 };
const ATTACKER: Endpoint = { address: 'sim-attacker', port: 9 };
const RIVAL_EP: Endpoint = { address: 'sim-rival', port: 1 };
/** Every host's clock reads the simulated time plus an offset: the sender's this one, each
 *  receiver's this one plus its skew (so no clock is ever negative). */
const SENDER_CLOCK_MS = 1_000_000;
const RECEIVER_BASE_PORT = 2;
const MAX_EVENTS = 20_000_000;
/** The attacker keeps at most this many captured group packets to replay. */
const MAX_CAPTURED = 512;

const decodeMeta = (b: Buffer): Meta => { const d = decodePacket(b); return d.ok ? d.packet : null; };

export function runScenario(sc: Scenario): SimResult {
  const rng = new Rng(sc.seed * 7919 + 17);
  const input = new Rng(sc.seed).bytes(sc.inputBytes);
  const inputSha256 = createHash('sha256').update(input).digest('hex');
  const m = newMetrics();
  let now = 0;
  let seq = 0;
  const heap = new Heap<Ev>();
  const push = (e: Ev extends infer E ? (E extends unknown ? Omit<E, 'seq'> : never) : never): void => heap.push({ ...e, seq: seq++ } as Ev);
  // One pending wake per node: a later wake supersedes nothing, an earlier one replaces it.
  const wakeAt: number[] = new Array(sc.receivers.length + 2).fill(Infinity);
  const RIVAL = sc.receivers.length + 1; // the rival sender's node number
  const scheduleWake = (node: number, waitMs: number): void => {
    if (!Number.isFinite(waitMs)) return;
    const at = now + Math.max(waitMs, 0.01);
    if (at < wakeAt[node]) { wakeAt[node] = at; push({ at, kind: 'wake', node }); }
  };

  const sessionId = rng.sessionId();
  const sender = new SenderSession({
    ...SENDER_TIMING_DEFAULTS,
    sessionId, job: 'sim', payloadBytes: sc.payloadBytes, windowBytes: sc.windowBytes,
    minReceivers: sc.minReceivers, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 5000,
    maxRateBitsPerSec: sc.maxRateBitsPerSec, dropAfterMs: sc.dropAfterMs, idleTimeoutMs: sc.idleTimeoutMs,
    ...(sc.attackEveryMs ? { allowedNames: sc.receivers.map((r) => r.name) } : {}),
    cookieSecret: rng.bytes(32),
  }, now + SENDER_CLOCK_MS);
  const captured: Buffer[] = []; // what the attacker captured off the group
  const bottleneck = sc.bottleneck ? new Bottleneck(sc.bottleneck) : null;
  const uplink = newLinkState();
  const sent = new SentIndex();
  let senderCrashed = false;
  let senderStarted = false;
  let lastSenderTxMs: number | null = null;
  let inputFed = 0;
  let inputClosed = false;

  // The sender's view of its receivers, from its events and the STATUS packets it got.
  const live = new Map<string, { delivered: number }>();
  const lastHeardFrom = new Map<string, number>(); // receiver endpoint -> last packet the sender took from it
  const lastFromSender = new Map<Incarnation, number>(); // last packet of the real session each process took from the sender

  const newIncarnation = (spec: SimReceiverSpec, index: number): Incarnation => {
    const endpoint = { address: `sim-${spec.name}`, port: RECEIVER_BASE_PORT + index };
    return {
      index, endpoint, key: formatEndpoint(endpoint), crashed: false, admitted: false, finishedAtMs: null,
      session: new ReceiverSession({
        ...RECEIVER_TIMING_DEFAULTS,
        name: spec.name, job: 'sim', maxWindowBytes: 1 << 30, random: (n: number) => rng.bytes(n),
        startTimeoutMs: 30_000, idleTimeoutMs: sc.idleTimeoutMs,
        ...(spec.socket ? { flowWindowBytes: Math.floor(spec.socket.capacityBytes / 4) } : {}),
        ...(sc.attackEveryMs ? { senderAddress: SENDER_EP.address } : {}),
      }, now + spec.clockSkewMs),
      hash: createHash('sha256'), bytes: 0, sinkStarted: false, sinkFinalized: false,
      received: new Set(), ahead: new AheadTracker(),
    };
  };
  const rx: RxNode[] = sc.receivers.map((spec) => ({
    spec, cur: newIncarnation(spec, 0), past: [], budget: 0, lastConsumeMs: 0, down: newLinkState(), up: newLinkState(),
    socket: spec.socket ? new SocketBuffer(spec.socket) : null, cpuFreeAtMs: 0, processPending: false, cut: false,
  }));
  const nodeByAddress = new Map(rx.map((r, i) => [r.cur.endpoint.address, i + 1]));

  /** A copy of DATA that an admitted receiver still needed did not reach it. */
  const noteLoss = (node: number, meta: Meta, cause: string): void => {
    if (node === 0 || node === RIVAL) { m.controlDrops++; return; }
    m.forwardDrops++;
    if (!meta || meta.type !== PacketType.Data || meta.sessionId !== sessionId) return;
    m.dataDrops++;
    const inc = rx[node - 1].cur;
    if (inc.crashed || !inc.admitted || inc.session.isFinished || inc.received.has(meta.offset)) return;
    countLoss(meta.offset, cause);
  };
  const lostOffsets = new Set<number>();
  const countLoss = (offset: number, cause: string): void => {
    m.dataLost++;
    m.dataLostByCause[cause] = (m.dataLostByCause[cause] ?? 0) + 1;
    if (!lostOffsets.has(offset)) { lostOffsets.add(offset); m.dataLostPackets++; }
  };

  const send = (link: LinkProfile, st: LinkState, bytes: Buffer, meta: Meta, sentMs: number, node: number, from: Endpoint, fromNode: number): void => {
    const copies = carry(rng, link, st, bytes, sentMs);
    if (copies.length === 0) { noteLoss(node, meta, 'link'); return; }
    if (copies.length > 1) m.duplicated++;
    for (const c of copies) {
      if (c.corrupted) { m.corrupted++; noteLoss(node, meta, 'corrupt'); }
      if (c.reordered && meta?.type === PacketType.Data) m.reordered++;
      push({ at: c.atMs, kind: 'deliver', node, from, fromNode, bytes: c.bytes, meta: c.corrupted ? null : meta });
    }
  };

  const senderPackets: Buffer[] = [];
  let firstSends = 0;
  const routeFromSender = (t: Transmit): void => {
    if (sc.attackEveryMs && t.to === null && captured.length < MAX_CAPTURED) captured.push(Buffer.from(t.bytes));
    if (sc.record) senderPackets.push(Buffer.from(t.bytes));
    const meta = decodeMeta(t.bytes);
    if (!sender.isFinished) {
      if (lastSenderTxMs !== null) {
        const gap = now - lastSenderTxMs;
        if (senderStarted) m.maxSilenceStartedMs = Math.max(m.maxSilenceStartedMs, gap);
        else m.maxSilenceWaitingMs = Math.max(m.maxSilenceWaitingMs, gap);
      }
      lastSenderTxMs = now;
    }
    if (meta && (meta.type === PacketType.Data || meta.type === PacketType.Heartbeat || meta.type === PacketType.End || meta.type === PacketType.Abort)) senderStarted = true;
    let forgeFor = -1;
    if (meta?.type === PacketType.Data) {
      if (sent.note(meta.offset, meta.offset + meta.payload.length)) {
        m.dataPackets++;
        const k = sc.forgeAtPackets?.indexOf(firstSends++) ?? -1;
        if (k >= 0) forgeFor = (sc.forgeVictims as number[])[k];
      } else m.repairPackets++;
    }
    if (t.to === null) hearGroup(RIVAL, SENDER_EP, t.bytes);
    const targets = t.to === null ? rx.map((_, i) => i + 1) : [unicastTarget(t.to)];
    let departMs = now;
    if (sc.uplinkLoss && lose(rng, sc.uplinkLoss, uplink)) {
      for (const n of targets) if (n >= 1) noteLoss(n, meta, 'uplink');
      return;
    }
    if (bottleneck) {
      const at = bottleneck.admit(frameBytes(t.bytes.length), now);
      if (at === null) {
        m.bottleneckDrops++;
        for (const n of targets) if (n >= 1) noteLoss(n, meta, 'bottleneck');
        return;
      }
      departMs = at;
    }
    for (const n of targets) {
      if (n < 1) continue;
      const r = rx[n - 1];
      if (n === forgeFor && meta?.type === PacketType.Data) {
        // The forger sits nearer the receiver than the sender does: its copy arrives first.
        m.forgedSent++;
        push({ at: departMs + r.spec.link.delayMs / 2, kind: 'deliver', node: n, from: SENDER_EP, fromNode: 0, bytes: forgeData(rng, t.bytes), meta });
      }
      send(r.spec.link, r.down, t.bytes, meta, departMs, n, SENDER_EP, 0);
    }
  };

  /** The node listening at an endpoint; -1 when nobody does (a process that was restarted on a new port). */
  function unicastTarget(to: Endpoint): number {
    const n = nodeByAddress.get(to.address);
    return n !== undefined && rx[n - 1].cur.key === formatEndpoint(to) ? n : -1;
  }

  const routeFromReceiver = (t: Transmit, node: number): void => {
    const r = rx[node - 1];
    send(r.spec.controlLink, r.up, t.bytes, decodeMeta(t.bytes), now, t.to?.address === RIVAL_EP.address ? RIVAL : 0, r.cur.endpoint, node);
  };

  // The rival sender (split brain): same job, other session, other bytes.
  let rival: SenderSession | null = null;
  const rivalInput = new Rng(sc.seed + 1).bytes(sc.inputBytes);
  let rivalFed = 0;
  const rivalEar = newLinkState();
  const senderEar = newLinkState();
  /** A sender's group packet reaches the other sender's ear (when the scenario gives them ears). */
  function hearGroup(node: number, from: Endpoint, bytes: Buffer): void {
    if (!sc.rival?.ears || (node === RIVAL && rival === null)) return;
    for (const c of carry(rng, sc.rival.earLink, node === RIVAL ? rivalEar : senderEar, bytes, now)) {
      if (!c.corrupted) push({ at: c.atMs, kind: 'ear', node, from, bytes: c.bytes });
    }
  }
  const stepRival = (): void => {
    const rv = rival;
    if (rv === null) return;
    const local = now + SENDER_CLOCK_MS;
    while (rivalFed < rivalInput.length && rv.inputSpaceBytes() > 0) {
      const n = Math.min(rv.inputSpaceBytes(), sc.inputChunkBytes, rivalInput.length - rivalFed);
      rv.handleInput(rivalInput.subarray(rivalFed, rivalFed + n), local);
      rivalFed += n;
      if (rivalFed === rivalInput.length) rv.handleInputEnd(local);
    }
    for (let t = rv.pollTransmit(local); t; t = rv.pollTransmit(local)) {
      if (t.to === null) hearGroup(0, RIVAL_EP, t.bytes);
      const meta = decodeMeta(t.bytes);
      const targets = t.to === null ? rx.map((_, i) => i + 1) : [unicastTarget(t.to)];
      for (const n of targets) if (n >= 1) send(rx[n - 1].spec.link, rx[n - 1].down, t.bytes, meta, now, n, RIVAL_EP, RIVAL);
    }
    while (rv.pollEvent()) { /* for logs */ }
    scheduleWake(RIVAL, rv.pollTimeoutMs(local));
  };

  /** The slowest live receiver's delivered offset, as the sender last heard it. */
  const ackedByAll = (): number | null => {
    let min: number | null = null;
    for (const v of live.values()) min = min === null ? v.delivered : Math.min(min, v.delivered);
    return min;
  };

  const stepSender = (): void => {
    if (senderCrashed) return;
    const acked = ackedByAll();
    if (sc.senderCrashAtFraction !== undefined && senderStarted && !sender.isFinished && acked !== null && acked >= sc.senderCrashAtFraction * sc.inputBytes) {
      senderCrashed = true;
      return;
    }
    while (!inputClosed) {
      const failNow = sc.inputFailAtFraction !== undefined
        && (inputFed >= sc.inputFailAtFraction * sc.inputBytes || inputFed >= input.length);
      if (failNow) {
        // Like a dump command that exits non-zero; held until the transfer started.
        if (senderStarted) { sender.handleInputFailed('simulated dump failure: exit status 1', now + SENDER_CLOCK_MS); inputClosed = true; }
        break;
      }
      const space = sender.inputSpaceBytes();
      if (space <= 0) break;
      if (inputFed >= input.length) { sender.handleInputEnd(now + SENDER_CLOCK_MS); inputClosed = true; break; }
      const n = Math.min(space, sc.inputChunkBytes, input.length - inputFed);
      sender.handleInput(input.subarray(inputFed, inputFed + n), now + SENDER_CLOCK_MS);
      inputFed += n;
    }
    for (let t = sender.pollTransmit(now + SENDER_CLOCK_MS); t; t = sender.pollTransmit(now + SENDER_CLOCK_MS)) routeFromSender(t);
    for (let ev = sender.pollEvent(); ev; ev = sender.pollEvent()) {
      if (ev.type === 'joined') live.set(ev.address, { delivered: 0 });
      else if (ev.type === 'receiver-done') live.delete(ev.address);
      else if (ev.type === 'dropped') {
        live.delete(ev.address);
        const heard = lastHeardFrom.get(ev.address);
        if (ev.reason === 'silent' && heard !== undefined) m.silentDropLatenessMs.push(now - (heard + sc.idleTimeoutMs));
      }
    }
    const held = ackedByAll();
    if (held !== null) m.senderHeldMaxBytes = Math.max(m.senderHeldMaxBytes, inputFed - held);
    scheduleWake(0, sender.pollTimeoutMs(now + SENDER_CLOCK_MS));
  };

  const crash = (i: number): void => {
    const r = rx[i - 1];
    r.cur.crashed = true;
    m.crashes++;
    r.socket?.clear();
    if (r.spec.restartAfterMs !== undefined && r.past.length === 0) push({ at: now + r.spec.restartAfterMs, kind: 'restart', node: i });
  };

  const stepReceiver = (i: number): void => {
    const r = rx[i - 1];
    const inc = r.cur;
    if (inc.crashed) return;
    const local = now + r.spec.clockSkewMs;
    const s = inc.session;
    if (r.spec.crashAtFraction !== undefined && inc.index === 0 && inc.bytes >= r.spec.crashAtFraction * sc.inputBytes && sc.inputBytes > 0) {
      crash(i);
      return;
    }
    r.budget = Math.min(r.budget + (now - r.lastConsumeMs) * r.spec.consumerBytesPerMs, 4 * sc.payloadBytes + 1);
    r.lastConsumeMs = now;
    while (r.budget > 0) {
      const chunk = s.pollDelivery(local);
      if (!chunk) break;
      if (!chunk.equals(input.subarray(inc.bytes, inc.bytes + chunk.length))) m.wrongChunksDelivered++;
      r.budget -= chunk.length;
      inc.hash.update(chunk);
      inc.bytes += chunk.length;
    }
    inc.ahead.release(inc.bytes);
    if (s.isVerified && !inc.sinkStarted) {
      inc.sinkStarted = true;
      push({ at: now + r.spec.sinkDelayMs, kind: 'sink-done', node: i, incarnation: inc.index });
    }
    for (let t = s.pollTransmit(local); t; t = s.pollTransmit(local)) routeFromReceiver(t, i);
    while (s.pollEvent()) { /* events are for logs */ }
    if (!inc.admitted && s.stats().sessionId === sessionId && s.result?.code !== 'refused') inc.admitted = true;
    if (s.isFinished && inc.finishedAtMs === null) {
      inc.finishedAtMs = now;
      if (inc.admitted && s.result?.code === 'timeout') m.timeoutLatenessMs.push(now - (lastFromSender.get(inc) ?? -Infinity) - sc.idleTimeoutMs);
    }
    let wait = s.pollTimeoutMs(local);
    if (s.bytesReady > 0 && r.budget <= 0) wait = Math.min(wait, (1 - r.budget) / r.spec.consumerBytesPerMs);
    scheduleWake(i, wait);
  };
  /** A datagram reaches a host's code (after its socket buffer, if it has one). */
  const handle = (e: Extract<Ev, { kind: 'deliver' }>): void => {
    if (e.node === RIVAL) { rival?.handlePacket(e.bytes, e.from, now + SENDER_CLOCK_MS); return; }
    if (e.node === 0) {
      if (senderCrashed) return;
      const meta = e.meta;
      if (meta && meta.sessionId === sessionId && e.fromNode > 0) {
        const key = formatEndpoint(e.from);
        if (meta.type === PacketType.Status || meta.type === PacketType.Done || (meta.type === PacketType.Join && meta.cookie.some((b) => b !== 0))) lastHeardFrom.set(key, now);
        if (meta.type === PacketType.Status) {
          for (const nak of meta.naks) m.nakedPackets += sent.packetsIn(nak.start, nak.end);
          const v = live.get(key);
          if (v) v.delivered = Math.max(v.delivered, meta.deliveredOffset);
        }
      }
      sender.handlePacket(e.bytes, e.from, now + SENDER_CLOCK_MS);
      return;
    }
    const r = rx[e.node - 1];
    const inc = r.cur;
    if (inc.crashed) return;
    const meta = e.meta;
    if (meta && meta.sessionId === sessionId && e.from === SENDER_EP && !inc.session.isFinished) {
      lastFromSender.set(inc, now);
      if (meta.type === PacketType.Data && !inc.admitted) {
        // The sender counts it in, but it has not seen its WELCOME yet: it cannot take DATA.
        if (live.has(inc.key) && !inc.received.has(meta.offset)) countLoss(meta.offset, 'before-welcome');
      } else if (meta.type === PacketType.Data) {
        inc.received.add(meta.offset);
        if (live.has(inc.key)) {
          inc.ahead.add(meta.offset, meta.offset + meta.payload.length, inc.bytes);
          m.receiverAheadMaxBytes = Math.max(m.receiverAheadMaxBytes, inc.ahead.bytes);
        }
      }
    }
    inc.session.handlePacket(e.bytes, e.from, now + r.spec.clockSkewMs);
  };

  const scheduleProcess = (i: number): void => {
    const r = rx[i - 1];
    if (r.processPending || !r.socket || r.socket.length === 0) return;
    r.processPending = true;
    push({ at: Math.max(now, r.cpuFreeAtMs), kind: 'process', node: i });
  };

  /** Partitions start when the first of their receivers delivered their share of the input. */
  const partitionStarted = (sc.partitions ?? []).map(() => false);
  const partitionNodes = (sc.partitions ?? []).map((p) => (p.nodes.length === 0 ? rx.map((_, i) => i + 1) : p.nodes.map((n) => nodeByAddress.get(`sim-${n}`) as number)));
  const maybeStartPartitions = (): void => {
    (sc.partitions ?? []).forEach((p, k) => {
      if (partitionStarted[k]) return;
      if (!partitionNodes[k].some((n) => rx[n - 1].cur.bytes >= p.atFraction * sc.inputBytes && rx[n - 1].cur.bytes > 0)) return;
      partitionStarted[k] = true;
      for (const n of partitionNodes[k]) rx[n - 1].cut = true;
      m.partitions.push({ nodes: partitionNodes[k].map((n) => rx[n - 1].spec.name), startMs: now, healMs: now + p.durationMs });
      push({ at: now + p.durationMs, kind: 'heal', node: 0, partition: k });
    });
  };

  const step = (node: number): void => { if (node === 0) stepSender(); else if (node === RIVAL) stepRival(); else stepReceiver(node); };
  const allDone = (): boolean =>
    (senderCrashed || sender.isFinished) && (sc.rival === undefined || (rival !== null && rival.isFinished)) && rx.every((r) => r.cur.crashed ? r.spec.restartAfterMs === undefined || r.past.length > 0 : r.cur.session.isFinished);

  if (sc.attackEveryMs) push({ at: 1, kind: 'attack', node: 0 });
  if (sc.rival) push({ at: sc.rival.startAtMs, kind: 'rival-start', node: RIVAL });
  const replayMeta = (sc.replay?.packets ?? []).map(decodeMeta);
  if (sc.replay && sc.replay.packets.length > 0) push({ at: 0.5, kind: 'replay', node: 0, index: 0 });

  step(0);
  rx.forEach((_, i) => step(i + 1));
  let events = 0;
  while (heap.size > 0 && !allDone()) {
    const e = heap.pop() as Ev;
    now = Math.max(now, e.at);
    if (now > sc.timeLimitMs || ++events > MAX_EVENTS) break;
    switch (e.kind) {
      case 'wake':
        if (e.at !== wakeAt[e.node]) continue; // superseded
        wakeAt[e.node] = Infinity;
        if (e.node === 0) { if (!senderCrashed) sender.handleTimeout(now + SENDER_CLOCK_MS); }
        else if (e.node === RIVAL) rival?.handleTimeout(now + SENDER_CLOCK_MS);
        else { const r = rx[e.node - 1]; if (!r.cur.crashed) r.cur.session.handleTimeout(now + r.spec.clockSkewMs); }
        break;
      case 'deliver': {
        const cut = (e.node > 0 && e.node <= rx.length && rx[e.node - 1].cut) || (e.fromNode > 0 && e.fromNode <= rx.length && rx[e.fromNode - 1].cut);
        if (cut) { noteLoss(e.node, e.meta, 'partition'); continue; }
        const r = e.node > 0 && e.node <= rx.length ? rx[e.node - 1] : null;
        if (r?.socket) {
          if (r.cur.crashed) continue;
          if (!r.socket.offer(e, e.bytes.length)) { m.socketDrops++; noteLoss(e.node, e.meta, 'socket'); continue; }
          m.socketPeakFraction = Math.max(m.socketPeakFraction, r.socket.peakBytes / r.socket.spec.capacityBytes);
          scheduleProcess(e.node);
          continue;
        }
        handle(e);
        break;
      }
      case 'process': {
        const r = rx[e.node - 1];
        r.processPending = false;
        const d = r.socket?.take();
        if (!d) continue;
        handle(d);
        r.cpuFreeAtMs = now + (r.socket as SocketBuffer<unknown>).spec.cpuMsPerPacket;
        scheduleProcess(e.node);
        break;
      }
      case 'attack': {
        m.attackPackets++;
        const victims = [0, ...rx.map((_, i) => i + 1)];
        for (const b of attackBatch(rng, sessionId, sc.receivers.map((r) => r.name), captured, now, SENDER_CLOCK_MS)) {
          push({ at: now + rng.next(), kind: 'deliver', node: rng.pick(victims), from: ATTACKER, fromNode: -1, bytes: b, meta: null });
        }
        push({ at: now + (sc.attackEveryMs as number), kind: 'attack', node: 0 });
        continue;
      }
      case 'replay': {
        const rp = sc.replay as { packets: Buffer[]; everyMs: number };
        const k = e.index % rp.packets.length;
        m.replayPackets++;
        rx.forEach((r, i) => { if (!r.cur.crashed) push({ at: now, kind: 'deliver', node: i + 1, from: SENDER_EP, fromNode: 0, bytes: Buffer.from(rp.packets[k]), meta: replayMeta[k] }); });
        push({ at: now + rp.everyMs, kind: 'replay', node: 0, index: e.index + 1 });
        continue;
      }
      case 'sink-done': {
        const r = rx[e.node - 1];
        if (!r.cur.crashed && r.cur.index === e.incarnation) {
          r.cur.sinkFinalized = r.spec.sinkExitCode === 0;
          r.cur.session.handleSinksFinished(r.spec.sinkExitCode === 0, r.spec.sinkExitCode, r.spec.sinkExitCode === 0 ? '' : `sink exited ${r.spec.sinkExitCode}`, now + r.spec.clockSkewMs);
        }
        break;
      }
      case 'heal':
        for (const n of partitionNodes[e.partition]) rx[n - 1].cut = false;
        continue;
      case 'rival-start':
        rival = new SenderSession({
          ...SENDER_TIMING_DEFAULTS,
          sessionId: rng.sessionId(), job: 'sim', payloadBytes: sc.payloadBytes, windowBytes: sc.windowBytes,
          minReceivers: sc.minReceivers, maxWaitMinReceivers: 1, minWaitMs: 0, maxWaitMs: 5000,
          maxRateBitsPerSec: sc.maxRateBitsPerSec, dropAfterMs: sc.dropAfterMs, idleTimeoutMs: sc.idleTimeoutMs, cookieSecret: rng.bytes(32),
        }, now + SENDER_CLOCK_MS);
        break;
      case 'ear':
        if (e.node === 0) { if (!senderCrashed) sender.handleGroupPacket(e.bytes, e.from, now + SENDER_CLOCK_MS); }
        else rival?.handleGroupPacket(e.bytes, e.from, now + SENDER_CLOCK_MS);
        break;
      case 'restart': {
        const r = rx[e.node - 1];
        r.past.push(r.cur);
        r.cur = newIncarnation(r.spec, r.past.length);
        r.budget = 0; r.lastConsumeMs = now;
        m.restarts++;
        break;
      }
      default:
    }
    step(e.node);
    if (e.node > 0 && partitionStarted.length > 0) maybeStartPartitions();
  }

  const incResult = (r: RxNode, inc: Incarnation): SimReceiverResult => ({
    name: r.spec.name, incarnation: inc.index, crashed: inc.crashed, finished: inc.session.isFinished, finishedAtMs: inc.finishedAtMs,
    admitted: inc.admitted, outcome: inc.session.result, bytes: inc.bytes, outputSha256: inc.hash.copy().digest('hex'), sinkFinalized: inc.sinkFinalized,
    verified: inc.sinkStarted,
  });
  return {
    scenario: sc, inputSha256, sessionId, senderFinished: sender.isFinished, senderCrashed,
    report: sender.report(), endMs: now, events, metrics: m, ...(sc.record ? { senderPackets } : {}),
    ...(rival ? { rivalReport: rival.report(), rivalFinished: rival.isFinished } : {}),
    receivers: rx.flatMap((r) => [...r.past, r.cur].map((inc) => incResult(r, inc))),
  };
}
