// The receiver's state machine, sans-IO: packets in through handlePacket, deadlines in through
// handleTimeout, verified bytes out in order through pollDelivery, control packets out through
// pollTransmit, time passed in. It joins one session (trying up to MAX_CANDIDATES at once until a
// WELCOME answers its own challenge), then composes the reassembly (in-order bytes, SHA-256),
// the loss detector (what to NAK and when) and one table of deadlines.
import {
  ABORT_REASON_NAMES, AbortReason, CHALLENGE_BYTES, COOKIE_BYTES, DEFAULT_FLOW_WINDOW_BYTES, DROP_REASON_NAMES, DoneStatus, DropReason, MAX_DETAIL_BYTES, MAX_NAK_RANGES,
  PacketType, RestoreOutcome, WelcomeVerdict,
} from './constants';
import { clipUtf8, decodePacket, encodePacket, type AnnouncePacket, type DataPacket, type HeartbeatPacket, type Packet, type WelcomePacket } from './codec';
import {
  EventQueue, countDrop, formatEndpoint, sameEndpoint, type DropCounters, type Endpoint, type Transmit,
} from './endpoint';
import { LOSS_DETECTOR_DEFAULTS, LossDetector } from './loss-detector';
import { Reassembly } from './reassembly';
import { TimerTable } from './timers';

export interface ReceiverSessionConfig {
  name: string;
  job: string;
  /** Refuse senders whose window would need more memory than this. */
  maxWindowBytes: number;
  /** Give up when no session was joined this long. 0 = wait forever. */
  startTimeoutMs: number;
  /** Give up when the sender is silent this long. */
  idleTimeoutMs: number;
  /** When set, only a sender at this address is followed (without a key, anyone on the segment
   *  can announce a session; this pins the real one). */
  senderAddress?: string;
  statusIntervalMs: number;
  joinRetryMs: number;
  doneRetryMs: number;
  /** How long DONE is repeated while the sender has not confirmed it. */
  doneWaitMs: number;
  /** Shortest gap between two STATUS packets when a new loss asks for one at once. */
  nakMinIntervalMs: number;
  /** What the sender may have in flight beyond what this receiver has read: a share of the
   *  socket's receive buffer, so a receiver short of CPU slows the sender instead of overflowing. */
  flowWindowBytes?: number;
  /** Randomness for the JOIN challenges (crypto.randomBytes in production, seeded in tests). */
  random: (bytes: number) => Buffer;
  /** An ANNOUNCE whose timestamp is further than this from our clock is refused (a replay of
   *  an earlier session, or clocks that are not synced). */
  maxClockSkewMs: number;
  /** Sessions this receiver already took (the daemon remembers them): refused when announced again. */
  seenSessionIds?: ReadonlySet<string>;
}

/** Sessions a receiver tries to join at once before one welcomes it (a replayed announce must
 *  not keep it from the real one). */
const MAX_CANDIDATES = 4;
/** A candidate that has not answered our JOIN with a cookie this long may make room for a new one. */
const CANDIDATE_PATIENCE_MS = 1000;
/** Sessions refused for their clock or as already seen, remembered so each is logged once. */
const MAX_REFUSED_SESSIONS = 64;
type ReceiverTimer = 'start-timeout' | 'join' | 'candidates-idle' | 'idle' | 'status' | 'loss' | 'done-retry' | 'done-wait';

interface Candidate {
  key: string;
  createdAtMs: number;
  sessionId: string;
  sender: Endpoint;
  challenge: Buffer;
  cookie: Buffer;
  windowBytes: number;
  payloadBytes: number;
  /** ANNOUNCE's info ('' when the candidate came from a HEARTBEAT). */
  info: string;
  lastAnnounceTimeMs: number;
  echoSenderTimeMs: number;
  echoReceivedAtMs: number;
  lastHeardMs: number;
  nextJoinMs: number;
  /** A JOIN to it goes out at the next pollTransmit. */
  joinDue: boolean;
  /** It answered our challenge: a live sender, not a replayed announce. */
  live: boolean;
}

const NO_COOKIE = Buffer.alloc(COOKIE_BYTES);

export const RECEIVER_TIMING_DEFAULTS = {
  maxClockSkewMs: 300_000,
  statusIntervalMs: 30,
  joinRetryMs: 100,
  doneRetryMs: 100,
  doneWaitMs: 3000,
  nakMinIntervalMs: 2,
} as const;

export type ReceiverState = 'listening' | 'joining' | 'receiving' | 'delivered' | 'reporting' | 'finished';

/** Stable codes for how a receiver's transfer ended. */
const REPORTED_OUTCOME: Record<DoneStatus, ReceiverOutcomeCode> = {
  [DoneStatus.Ok]: 'ok', [DoneStatus.HashMismatch]: 'hash-mismatch', [DoneStatus.SinkFailed]: 'sink-failed',
  [DoneStatus.Aborted]: 'aborted', [DoneStatus.LocalError]: 'local-error', [DoneStatus.PreflightFailed]: 'preflight-failed',
  [DoneStatus.SplitBrain]: 'split-brain', [DoneStatus.StaleSource]: 'stale-source',
};

export type ReceiverOutcomeCode =
  | 'ok' | 'no-session' | 'refused' | 'dropped' | 'aborted' | 'hash-mismatch' | 'timeout'
  | 'sink-failed' | 'local-error' | 'preflight-failed' | 'split-brain' | 'stale-source';

export interface ReceiverOutcome {
  code: ReceiverOutcomeCode;
  message: string;
}

export type ReceiverEvent =
  | { type: 'locked'; sessionId: string; sender: string; windowBytes: number; payloadBytes: number; info: string }
  | { type: 'announce-refused'; sender: string; reason: string; sessionId?: string }
  /** info: the joined session's ANNOUNCE info (what the stream is). */
  | { type: 'joined'; sessionId: string; info: string }
  | { type: 'verified'; bytes: number; sha256: string }
  /** Two live senders announce this job: both are refused (split brain). */
  | { type: 'rival'; reason: string }
  | { type: 'finished'; outcome: ReceiverOutcome };

export interface ReceiverStats {
  sessionId: string | null;
  sender: string | null;
  bytesDelivered: number;
  totalBytes: number | null;
  sha256: string | null;
  repairsRequested: number;
  duplicates: number;
  dropped: DropCounters;
  doneConfirmed: boolean;
}

export class ReceiverSession {
  private state: ReceiverState = 'listening';
  private outcome: ReceiverOutcome | null = null;
  private readonly events = new EventQueue<ReceiverEvent>();
  private readonly timers = new TimerTable<ReceiverTimer>();
  readonly dropped: DropCounters = {};

  // Before a WELCOME admits us: the sessions we are trying to join. After: the one that did.
  private readonly candidates = new Map<string, Candidate>();
  private readonly refusedSessions = new Set<string>();
  // Rivals (split brain): from listening until the stream verified, a second live session of
  // this job refuses both. After the WELCOME, another session's announce is probed with a JOIN
  // (no cookie): only a live sender answers our fresh challenge, so a replay cannot stop a run.
  private readonly probes = new Map<string, Candidate>();
  private rival: string | null = null;
  /** Once two are live, the one candidate still joined (to report the split brain to). */
  private rivalReportTo: string | null = null;
  private sessionId: string | null = null;
  private sender: Endpoint | null = null;
  private receiverId = 0;
  private cookie: Buffer = NO_COOKIE;
  private windowBytes = 0;
  private payloadBytes = 0;
  private lastHeardMs = 0;

  private readonly stream = new Reassembly();
  private readonly loss: LossDetector;
  private sentEndOffset = 0;
  private totalBytes: number | null = null;
  private expectedSha256: Buffer | null = null;
  private restoreOutcome = RestoreOutcome.None;
  private repairsRequested = 0;
  private duplicates = 0;

  // Status reporting.
  private lastStatusMs = -Infinity;
  /** Something (a loss due, the window or the flow window moving) wants a STATUS soon. */
  private statusUrgent = false;
  private statusDue = false;
  private deliveredAtLastStatus = 0;
  private receivedAtLastStatus = 0;
  private readonly flowWindowBytes: number;
  private echoSenderTimeMs = 0;
  private echoReceivedAtMs = 0;

  // Final report.
  private doneStatus: DoneStatus = DoneStatus.Ok;
  private doneDetail = '';
  private sinkExitCode = -1;
  private doneDue = false;
  private doneConfirmed = false;

  constructor(private readonly cfg: ReceiverSessionConfig, nowMs: number) {
    this.flowWindowBytes = Math.max(1, Math.min(0xffffffff, Math.floor(cfg.flowWindowBytes ?? DEFAULT_FLOW_WINDOW_BYTES)));
    this.loss = new LossDetector({ ...LOSS_DETECTOR_DEFAULTS, random: () => cfg.random(4).readUInt32BE(0) / 0x1_0000_0000 });
    if (cfg.startTimeoutMs > 0) this.timers.set('start-timeout', nowMs + cfg.startTimeoutMs);
  }

  get currentState(): ReceiverState { return this.state; }
  get isFinished(): boolean { return this.state === 'finished'; }
  get result(): ReceiverOutcome | null { return this.outcome; }
  /** True once every byte was delivered and the SHA-256 matched: sinks may be finalized. */
  get isVerified(): boolean { return this.state === 'delivered'; }
  get bytesDelivered(): number { return this.stream.deliveredOffset; }
  /** Verified in-order bytes waiting for the sinks. */
  get bytesReady(): number { return this.stream.bytesReady; }
  /** What is held in memory, for bounds in tests and the simulator. */
  get memory(): { heldBytes: number; holes: number; aheadRanges: number } {
    return { heldBytes: this.stream.heldBytes, holes: this.loss.holeCount, aheadRanges: this.stream.aheadRanges };
  }
  stats(): ReceiverStats {
    const sha = this.stream.sha256;
    return {
      sessionId: this.sessionId, sender: this.sender ? formatEndpoint(this.sender) : null,
      bytesDelivered: this.stream.deliveredOffset, totalBytes: this.totalBytes,
      sha256: sha && this.totalBytes !== null && this.stream.deliveredOffset === this.totalBytes ? sha.toString('hex') : null,
      repairsRequested: this.repairsRequested, duplicates: this.duplicates,
      dropped: { ...this.dropped }, doneConfirmed: this.doneConfirmed,
    };
  }

  // ------------------------------------------------------------ inputs

  handlePacket(bytes: Buffer, from: Endpoint, nowMs: number): void {
    const res = decodePacket(bytes);
    if (!res.ok) { countDrop(this.dropped, res.reason); return; }
    const p = res.packet;
    if (this.state === 'finished') return;
    if (this.sessionId === null) { this.handleJoining(p, from, nowMs); return; }
    if (p.sessionId !== this.sessionId) { this.handleForeign(p, from, nowMs); return; }
    if (this.sender === null || !sameEndpoint(this.sender, from)) { countDrop(this.dropped, 'foreign-sender'); return; }
    this.lastHeardMs = nowMs;
    this.handleLocked(p, nowMs);
  }

  /** Fire every deadline that is due. Drivers call it when the time pollTimeoutMs gave has come. */
  handleTimeout(nowMs: number): void {
    for (const name of this.timers.takeDue(nowMs)) {
      if (this.state === 'finished') return;
      this.fire(name, nowMs);
    }
  }

  private fire(name: ReceiverTimer, nowMs: number): void {
    switch (name) {
      case 'start-timeout':
        if (this.state !== 'listening' && this.state !== 'joining') return;
        if (this.rival) { this.finish({ code: 'split-brain', message: this.rival }); return; }
        this.finish({ code: 'no-session', message: this.state === 'listening'
          ? `no sender announced job '${this.cfg.job}' within the start timeout`
          : 'the sender did not accept this receiver within the start timeout' });
        return;
      case 'join':
        for (const c of this.candidates.values()) if (c.nextJoinMs <= nowMs && this.mayJoin(c)) c.joinDue = true;
        for (const c of this.probes.values()) if (c.nextJoinMs <= nowMs) c.joinDue = true;
        this.armJoin();
        return;
      case 'candidates-idle':
        // A candidate that went silent is forgotten (a replayed announce has nobody behind it);
        // when the last one does, the sender went silent before the transfer started.
        if (this.state !== 'joining') return;
        for (const c of this.candidates.values()) if (nowMs - c.lastHeardMs >= this.cfg.idleTimeoutMs) this.candidates.delete(c.key);
        if (this.candidates.size === 0) {
          this.finish(this.rival ? { code: 'split-brain', message: this.rival } : { code: 'timeout', message: 'sender went silent before the transfer started' });
          return;
        }
        this.armCandidatesIdle();
        this.armJoin();
        return;
      case 'idle':
        if (this.state !== 'receiving' && this.state !== 'delivered') return;
        if (nowMs - this.lastHeardMs >= this.cfg.idleTimeoutMs) {
          this.finish({ code: 'timeout', message: `sender silent for ${this.cfg.idleTimeoutMs} ms (${this.stream.deliveredOffset} bytes received)` });
        } else {
          this.timers.set('idle', this.lastHeardMs + this.cfg.idleTimeoutMs); // heard since: wait on
        }
        return;
      case 'status':
        if (this.state === 'receiving' || this.state === 'delivered') this.statusDue = true;
        return;
      case 'loss': {
        const due = this.loss.nextDueMs();
        if (due <= nowMs) this.wantStatus();
        else if (Number.isFinite(due)) this.timers.set('loss', due);
        return;
      }
      case 'done-retry':
        if (this.state !== 'reporting') return;
        this.doneDue = true;
        this.timers.set('done-retry', nowMs + this.cfg.doneRetryMs);
        return;
      case 'done-wait':
        // The sender may be gone; our own verdict stands.
        if (this.state === 'reporting') this.finishReported();
        return;
      default:
    }
  }

  private armJoin(): void {
    let at = Infinity;
    for (const c of this.candidates.values()) if (!c.joinDue && c.nextJoinMs < at) at = c.nextJoinMs;
    for (const c of this.probes.values()) if (!c.joinDue && c.nextJoinMs < at) at = c.nextJoinMs;
    if (Number.isFinite(at)) this.timers.set('join', at); else this.timers.cancel('join');
  }

  private armCandidatesIdle(): void {
    let at = Infinity;
    for (const c of this.candidates.values()) at = Math.min(at, c.lastHeardMs + this.cfg.idleTimeoutMs);
    if (Number.isFinite(at)) this.timers.set('candidates-idle', at); else this.timers.cancel('candidates-idle');
  }

  /** A STATUS should go out soon: no sooner than nakMinIntervalMs after the last one. */
  private wantStatus(): void {
    if (this.statusUrgent || (this.state !== 'receiving' && this.state !== 'delivered')) return;
    this.statusUrgent = true;
    const at = this.lastStatusMs + this.cfg.nakMinIntervalMs;
    const cur = this.timers.get('status');
    if (cur === undefined || at < cur) this.timers.set('status', at);
  }

  /** Until a WELCOME that answers our own challenge admits us, no DATA, END or ABORT counts:
   *  a recorded session replayed tonight can never welcome a challenge it never saw. */
  private handleJoining(p: Packet, from: Endpoint, nowMs: number): void {
    // Keyed by session and sender: a forged announce of the real session from elsewhere must not
    // keep the real sender out.
    const key = `${p.sessionId}/${formatEndpoint(from)}`;
    const c = this.candidates.get(key);
    if (c) {
      c.lastHeardMs = nowMs;
      switch (p.type) {
        case PacketType.Welcome: this.handleWelcome(c, p, nowMs); return;
        case PacketType.Announce: c.lastAnnounceTimeMs = p.senderTimeMs; c.echoSenderTimeMs = p.senderTimeMs; c.echoReceivedAtMs = nowMs; return;
        case PacketType.Abort:
          // A sender that saw a rival of its job stops; so does this receiver, once none is left.
          if (p.reason !== AbortReason.SplitBrain) { countDrop(this.dropped, 'before-welcome'); return; }
          this.candidates.delete(c.key);
          this.noteRival(`sender ${formatEndpoint(from)} aborted: another sender announces job '${this.cfg.job}' (split brain)`);
          if (this.candidates.size === 0) this.finish({ code: 'split-brain', message: this.rival as string });
          return;
        case PacketType.Heartbeat: case PacketType.End: case PacketType.Data:
          // The transfer runs and our WELCOME may be lost: ask again now.
          c.joinDue = true;
          if (p.type !== PacketType.Heartbeat) countDrop(this.dropped, 'before-welcome');
          return;
        default: countDrop(this.dropped, 'before-welcome'); return;
      }
    }
    // A heartbeat means the job's session already runs: join anyway, to be refused loudly.
    if ((p.type !== PacketType.Announce && p.type !== PacketType.Heartbeat) || p.job !== this.cfg.job) {
      countDrop(this.dropped, [...this.candidates.values()].some((x) => x.sessionId === p.sessionId) ? 'foreign-sender' : 'foreign-session');
      return;
    }
    if (this.cfg.senderAddress !== undefined && from.address !== this.cfg.senderAddress) {
      countDrop(this.dropped, 'sender-not-allowed');
      return;
    }
    const refusal = this.announceRefusal(p, nowMs);
    if (refusal) {
      countDrop(this.dropped, refusal.counter);
      if (!this.refusedSessions.has(p.sessionId) && this.refusedSessions.size < MAX_REFUSED_SESSIONS) {
        this.refusedSessions.add(p.sessionId);
        this.events.push({ type: 'announce-refused', sender: formatEndpoint(from), reason: refusal.reason, sessionId: p.sessionId });
      }
      return;
    }
    if (this.candidates.size >= MAX_CANDIDATES && !this.evictStaleCandidate(nowMs)) { countDrop(this.dropped, 'too-many-candidates'); return; }
    const isAnnounce = p.type === PacketType.Announce;
    const cand: Candidate = {
      key, createdAtMs: nowMs, sessionId: p.sessionId, sender: { ...from }, challenge: this.cfg.random(CHALLENGE_BYTES), cookie: NO_COOKIE,
      windowBytes: isAnnounce ? p.windowBytes : 0, payloadBytes: isAnnounce ? p.payloadBytes : 0, info: isAnnounce ? p.info : '',
      lastAnnounceTimeMs: isAnnounce ? p.senderTimeMs : 0, echoSenderTimeMs: p.senderTimeMs, echoReceivedAtMs: nowMs,
      lastHeardMs: nowMs, nextJoinMs: nowMs, joinDue: true, live: false,
    };
    this.candidates.set(key, cand);
    this.state = 'joining';
    this.armCandidatesIdle();
    this.events.push({ type: 'locked', sessionId: p.sessionId, sender: formatEndpoint(from), windowBytes: cand.windowBytes, payloadBytes: cand.payloadBytes, info: cand.info });
  }

  /** Make room: forget the oldest candidate that never answered our JOIN (nobody real behind it). */
  private evictStaleCandidate(nowMs: number): boolean {
    for (const c of this.candidates.values()) {
      if (c.cookie === NO_COOKIE && nowMs - c.createdAtMs >= CANDIDATE_PATIENCE_MS) { this.candidates.delete(c.key); return true; }
    }
    return false;
  }

  private rivalReason(a: { sessionId: string; sender: Endpoint }, b: { sessionId: string; sender: Endpoint }): string {
    return `two senders announce job '${this.cfg.job}': session ${a.sessionId} from ${formatEndpoint(a.sender)} and session ${b.sessionId} from ${formatEndpoint(b.sender)} (split brain: refusing both)`;
  }

  /** After a split brain is seen, only the first live candidate is joined: a receiver admitted
   *  by both could report to one only, and the other would count it silent. */
  private mayJoin(c: Candidate): boolean {
    return this.rival === null || c.key === this.rivalReportTo;
  }

  private noteRival(reason: string): void {
    if (this.rival) return;
    this.rival = reason;
    this.events.push({ type: 'rival', reason });
  }

  /** A packet of another session once we are admitted: ignored, except a rival of our job
   *  before the stream verified (probed, and once it answers, both are refused). */
  private handleForeign(p: Packet, from: Endpoint, nowMs: number): void {
    if (this.state !== 'receiving') { countDrop(this.dropped, 'foreign-session'); return; }
    const key = `${p.sessionId}/${formatEndpoint(from)}`;
    const probe = this.probes.get(key);
    if (probe) {
      if (p.type === PacketType.Welcome && p.challenge.equals(probe.challenge)) {
        this.noteRival(this.rivalReason({ sessionId: this.sessionId as string, sender: this.sender as Endpoint }, probe));
        this.probes.clear();
        this.timers.cancel('join');
        this.report(DoneStatus.SplitBrain, this.rival as string, nowMs);
        return;
      }
      if (p.type === PacketType.Announce) probe.lastAnnounceTimeMs = p.senderTimeMs;
      countDrop(this.dropped, 'foreign-session');
      return;
    }
    if ((p.type === PacketType.Announce || p.type === PacketType.Heartbeat) && p.job === this.cfg.job && this.probes.size < MAX_CANDIDATES &&
      (this.cfg.senderAddress === undefined || from.address === this.cfg.senderAddress) && this.announceRefusal(p, nowMs) === null) {
      this.probes.set(key, {
        key, createdAtMs: nowMs, sessionId: p.sessionId, sender: { ...from }, challenge: this.cfg.random(CHALLENGE_BYTES), cookie: NO_COOKIE,
        windowBytes: 0, payloadBytes: 0, info: '', lastAnnounceTimeMs: p.type === PacketType.Announce ? p.senderTimeMs : 0,
        echoSenderTimeMs: p.senderTimeMs, echoReceivedAtMs: nowMs, lastHeardMs: nowMs, nextJoinMs: nowMs, joinDue: true, live: false,
      });
      return;
    }
    countDrop(this.dropped, 'foreign-session');
  }

  private announceRefusal(p: AnnouncePacket | HeartbeatPacket, nowMs: number): { counter: string; reason: string } | null {
    if (this.cfg.seenSessionIds?.has(p.sessionId)) {
      return { counter: 'seen-session', reason: `session ${p.sessionId} was already received here: a replay of an earlier night` };
    }
    const skewMs = p.senderTimeMs - nowMs;
    if (Math.abs(skewMs) > this.cfg.maxClockSkewMs) {
      return { counter: 'stale-announce', reason: `its clock is ${(skewMs / 1000).toFixed(0)} s from this host's (more than ${this.cfg.maxClockSkewMs / 1000} s): a replay of an earlier session, or clocks not in sync (check NTP)` };
    }
    if (p.type === PacketType.Announce && p.windowBytes > this.cfg.maxWindowBytes) {
      return { counter: 'window-too-large', reason: `window of ${p.windowBytes} bytes exceeds this receiver's limit of ${this.cfg.maxWindowBytes}` };
    }
    return null;
  }

  private handleWelcome(c: Candidate, p: WelcomePacket, nowMs: number): void {
    if (!p.challenge.equals(c.challenge)) { countDrop(this.dropped, 'bad-challenge'); return; }
    if (!c.live) {
      c.live = true;
      for (const o of this.candidates.values()) {
        if (o.live && o.sessionId !== c.sessionId) { this.rivalReportTo = o.key; this.noteRival(this.rivalReason(o, c)); break; }
      }
    }
    switch (p.verdict) {
      case WelcomeVerdict.Validate:
        // JOIN again, with it; once two are live, only the first to be (it reports the split brain).
        if (c.cookie === NO_COOKIE) { c.cookie = p.cookie; c.joinDue = this.mayJoin(c); }
        return;
      case WelcomeVerdict.Refused:
        this.candidates.delete(c.key);
        if (this.candidates.size === 0) {
          this.sessionId = c.sessionId; this.sender = c.sender;
          this.finish(this.rival ? { code: 'split-brain', message: this.rival }
            : { code: 'refused', message: `sender refused this receiver: ${DROP_REASON_NAMES[p.refusal as DropReason]}` });
        }
        return;
      case WelcomeVerdict.Admitted:
        this.sessionId = c.sessionId;
        this.sender = c.sender;
        this.receiverId = p.receiverId;
        this.cookie = p.cookie;
        this.windowBytes = c.windowBytes;
        this.payloadBytes = c.payloadBytes;
        this.echoSenderTimeMs = p.senderTimeMs;
        this.echoReceivedAtMs = nowMs;
        this.lastHeardMs = nowMs;
        if (p.echoReceiverTimeMs > 0 && nowMs >= p.echoReceiverTimeMs) this.loss.noteRttSample(nowMs - p.echoReceiverTimeMs);
        // The other sessions' senders may still prove live: keep asking them.
        for (const o of this.candidates.values()) if (o.sessionId !== c.sessionId && !this.rival) this.probes.set(o.key, o);
        this.candidates.clear();
        this.state = 'receiving';
        for (const t of ['join', 'candidates-idle', 'start-timeout'] as const) this.timers.cancel(t);
        this.timers.set('idle', nowMs + this.cfg.idleTimeoutMs);
        this.timers.set('status', nowMs); // the first STATUS tells the sender our flow window at once
        this.events.push({ type: 'joined', sessionId: c.sessionId, info: c.info });
        if (this.rival) this.report(DoneStatus.SplitBrain, this.rival, nowMs);
        else this.armJoin();
        return;
      default:
    }
  }

  private handleLocked(p: Packet, nowMs: number): void {
    switch (p.type) {
      case PacketType.Announce:
        this.noteSenderTime(p.senderTimeMs, nowMs);
        return;
      case PacketType.Welcome:
        return; // a repeat of the one that admitted us
      case PacketType.Drop:
        if (p.receiverId !== this.receiverId) { countDrop(this.dropped, 'not-for-us'); return; }
        if (this.state === 'reporting') { this.finishReported(); return; } // our own verdict stands
        this.finish({ code: 'dropped', message: `sender dropped this receiver: ${DROP_REASON_NAMES[p.reason]}` });
        return;
      case PacketType.Abort:
        // Once every byte is verified, an abort (say, the sender was interrupted) changes nothing here.
        if (this.state === 'reporting' || this.state === 'delivered') return;
        this.report(p.reason === AbortReason.SplitBrain ? DoneStatus.SplitBrain : DoneStatus.Aborted,
          `sender aborted: ${ABORT_REASON_NAMES[p.reason]}${p.message ? ` (${p.message})` : ''}`, nowMs);
        return;
      case PacketType.DoneAck:
        if (p.receiverId !== this.receiverId) { countDrop(this.dropped, 'not-for-us'); return; }
        if (this.state === 'reporting') { this.doneConfirmed = true; this.finishReported(); }
        return;
      case PacketType.Heartbeat:
        this.noteSenderTime(p.senderTimeMs, nowMs);
        this.noteKnownEnd(p.sentEndOffset, nowMs);
        return;
      case PacketType.End:
        this.noteSenderTime(p.senderTimeMs, nowMs);
        if (this.totalBytes === null) {
          if (p.totalBytes < this.stream.highestEnd) { this.report(DoneStatus.HashMismatch, 'stream longer than the length the sender announced', nowMs); return; }
          this.totalBytes = p.totalBytes;
          this.expectedSha256 = p.sha256;
          this.noteKnownEnd(p.totalBytes, nowMs);
          this.checkComplete(nowMs);
        }
        return;
      case PacketType.Data:
        this.handleData(p, nowMs);
        return;
      default:
        countDrop(this.dropped, 'unexpected-type');
    }
  }

  private noteSenderTime(senderTimeMs: number, nowMs: number): void {
    this.echoSenderTimeMs = senderTimeMs;
    this.echoReceivedAtMs = nowMs;
  }

  /** The sender has sent up to `end`: what we have not seen below it is missing (tail loss). */
  private noteKnownEnd(end: number, nowMs: number): void {
    if (end <= this.sentEndOffset) return;
    this.sentEndOffset = end;
    if (this.state !== 'receiving') return;
    this.loss.noteKnownEnd(Math.max(end, this.stream.contiguousOffset), nowMs);
    this.armLoss(nowMs);
  }

  /** A hole may have been found: the loss timer fires when the earliest one is due. */
  private armLoss(nowMs: number): void {
    if (this.loss.holeCount === 0) return;
    const cur = this.timers.get('loss');
    const at = nowMs + this.loss.reorderDelayMs;
    if (cur === undefined || at < cur) this.timers.set('loss', Math.min(at, this.loss.nextDueMs()));
  }

  private handleData(p: DataPacket, nowMs: number): void {
    if (this.state !== 'receiving') { this.duplicates++; return; }
    const placed = this.stream.place(p.offset, p.payload, { payloadBytes: this.payloadBytes, windowBytes: this.windowBytes, totalBytes: this.totalBytes });
    if (placed.kind === 'duplicate') { this.duplicates++; return; }
    if (placed.kind === 'rejected') { countDrop(this.dropped, placed.reason); return; }
    if (placed.jumpedFrom !== null) {
      this.repairsRequested += Math.ceil((placed.start - placed.jumpedFrom) / Math.max(1, this.payloadBytes));
    }
    this.loss.noteArrival(placed.start, placed.end, nowMs);
    this.loss.dropBelow(this.stream.contiguousOffset);
    if (placed.jumpedFrom !== null) this.armLoss(nowMs);
    // Acknowledge reading early enough that the sender never waits on the flow window.
    if (placed.end - this.receivedAtLastStatus >= this.flowWindowBytes / 4) this.wantStatus();
  }

  /** Every sink finished: report the outcome to the sender. */
  handleSinksFinished(ok: boolean, sinkExitCode: number, detail: string, nowMs: number, restoreOutcome = RestoreOutcome.None): void {
    this.sinkExitCode = sinkExitCode;
    this.restoreOutcome = restoreOutcome;
    if (this.state !== 'delivered') return;
    this.report(ok ? DoneStatus.Ok : DoneStatus.SinkFailed, detail, nowMs);
  }

  /** Something local made this receiver give up (all sinks failed, out of disk, interrupted, the
   *  source guard refused the announced source). */
  handleLocalFailure(status: DoneStatus.SinkFailed | DoneStatus.LocalError | DoneStatus.PreflightFailed | DoneStatus.SplitBrain | DoneStatus.StaleSource | DoneStatus.HashMismatch, detail: string, sinkExitCode: number, nowMs: number, restoreOutcome = RestoreOutcome.None): void {
    this.sinkExitCode = sinkExitCode;
    this.restoreOutcome = restoreOutcome;
    if (this.sessionId === null) { this.finish({ code: REPORTED_OUTCOME[status], message: detail }); return; }
    if (this.state === 'reporting' || this.state === 'finished') return;
    this.report(status, detail, nowMs);
  }

  // ------------------------------------------------------------ state changes

  private checkComplete(nowMs: number): void {
    if (this.totalBytes === null || this.stream.deliveredOffset !== this.totalBytes) return;
    if (this.state !== 'receiving') return;
    const expected = this.expectedSha256;
    if (expected && this.stream.verify(expected)) {
      this.state = 'delivered';
      this.probes.clear(); // the window for rivals closes: this stream is the one
      this.timers.cancel('loss');
      this.wantStatus();
      this.events.push({ type: 'verified', bytes: this.stream.deliveredOffset, sha256: this.stream.finalDigest().toString('hex') });
    } else {
      this.report(DoneStatus.HashMismatch, `SHA-256 mismatch: got ${this.stream.finalDigest().toString('hex')}, sender announced ${expected?.toString('hex')}`, nowMs);
    }
  }

  private report(status: DoneStatus, detail: string, nowMs: number): void {
    this.probes.clear();
    this.doneStatus = status;
    this.doneDetail = clipUtf8(detail, MAX_DETAIL_BYTES);
    this.state = 'reporting';
    this.doneDue = true;
    this.statusDue = false;
    for (const t of ['status', 'loss', 'idle'] as const) this.timers.cancel(t);
    this.timers.set('done-retry', nowMs + this.cfg.doneRetryMs);
    this.timers.set('done-wait', nowMs + this.cfg.doneWaitMs);
    this.stream.clear();
  }

  private finishReported(): void {
    this.finish({ code: REPORTED_OUTCOME[this.doneStatus], message: this.doneDetail || 'stream verified' });
  }

  private finish(outcome: ReceiverOutcome): void {
    this.state = 'finished';
    this.outcome = outcome;
    this.stream.clear();
    for (const [name] of this.timers.entries()) this.timers.cancel(name);
    this.events.push({ type: 'finished', outcome });
  }

  // ------------------------------------------------------------ outputs

  /** The next in-order verified chunk for the sinks, or null. Call only when sinks can take it. */
  pollDelivery(nowMs: number): Buffer | null {
    if (this.state !== 'receiving') return null;
    const chunk = this.stream.deliver();
    if (!chunk) return null;
    // Free the sender's window early rather than at the next periodic status.
    if (this.stream.deliveredOffset - this.deliveredAtLastStatus >= this.windowBytes / 4) this.wantStatus();
    this.checkComplete(nowMs);
    return chunk;
  }

  /** The next datagram to send now, or null. Fires no deadline (that is handleTimeout's job). */
  pollTransmit(nowMs: number): Transmit | null {
    if (this.state === 'joining') {
      for (const c of this.candidates.values()) {
        if (!c.joinDue) continue;
        c.joinDue = false;
        c.nextJoinMs = nowMs + this.cfg.joinRetryMs;
        this.timers.setEarliest('join', c.nextJoinMs);
        return { to: c.sender, bytes: encodePacket({
          type: PacketType.Join, sessionId: c.sessionId, challenge: c.challenge, cookie: c.cookie, receiverTimeMs: nowMs,
          echoSenderTimeMs: c.lastAnnounceTimeMs, name: this.cfg.name,
        }) };
      }
      return null;
    }
    const sid = this.sessionId;
    if (sid === null || this.sender === null) return null;
    if (this.state === 'receiving' && this.probes.size > 0) {
      for (const c of this.probes.values()) {
        if (!c.joinDue) continue;
        c.joinDue = false;
        c.nextJoinMs = nowMs + this.cfg.joinRetryMs;
        this.timers.setEarliest('join', c.nextJoinMs);
        // No cookie: the sender answers with one on the group, which proves it live; we never join it.
        return { to: c.sender, bytes: encodePacket({
          type: PacketType.Join, sessionId: c.sessionId, challenge: c.challenge, cookie: NO_COOKIE, receiverTimeMs: nowMs,
          echoSenderTimeMs: c.lastAnnounceTimeMs, name: this.cfg.name,
        }) };
      }
    }
    switch (this.state) {
      case 'receiving':
      case 'delivered':
        if (!this.statusDue) return null;
        return { to: this.sender, bytes: this.status(sid, nowMs) };
      case 'reporting':
        if (!this.doneDue) return null;
        this.doneDue = false;
        return { to: this.sender, bytes: encodePacket({
          type: PacketType.Done, sessionId: sid, receiverId: this.receiverId, cookie: this.cookie, status: this.doneStatus, restoreOutcome: this.restoreOutcome,
          bytes: this.stream.deliveredOffset, sinkExitCode: this.sinkExitCode, repairsRequested: this.repairsRequested,
          detail: this.doneDetail,
        }) };
      default:
        return null;
    }
  }

  private status(sid: string, nowMs: number): Buffer {
    this.lastStatusMs = nowMs;
    this.statusDue = false;
    this.statusUrgent = false;
    this.timers.set('status', nowMs + this.cfg.statusIntervalMs);
    const s = this.stream;
    this.deliveredAtLastStatus = s.deliveredOffset;
    this.receivedAtLastStatus = Math.max(s.highestEnd, s.contiguousOffset);
    const naks = this.state === 'receiving' ? this.loss.takeDue(nowMs, MAX_NAK_RANGES) : [];
    const due = this.loss.nextDueMs();
    if (Number.isFinite(due) && this.state === 'receiving') this.timers.set('loss', due); else this.timers.cancel('loss');
    return encodePacket({
      type: PacketType.Status, sessionId: sid, receiverId: this.receiverId, cookie: this.cookie,
      deliveredOffset: s.deliveredOffset, contiguousOffset: s.contiguousOffset,
      receivedEndOffset: this.receivedAtLastStatus, flowWindowBytes: this.flowWindowBytes,
      echoSenderTimeMs: this.echoSenderTimeMs, holdMs: Math.max(0, Math.round(nowMs - this.echoReceivedAtMs)),
      naks,
    });
  }

  /** Ms until handleTimeout or pollTransmit has something to do (0 = now). Changes nothing. */
  pollTimeoutMs(nowMs: number): number {
    if (this.state === 'finished') return Infinity;
    if (this.statusDue || this.doneDue) return 0;
    if (this.state === 'joining') for (const c of this.candidates.values()) if (c.joinDue) return 0;
    if (this.state === 'receiving') for (const c of this.probes.values()) if (c.joinDue) return 0;
    return Math.max(0, this.timers.next() - nowMs);
  }

  pollEvent(): ReceiverEvent | null { return this.events.shift(); }
}
