// The sender's state machine, sans-IO: packets and input in through handle*, deadlines in
// through handleTimeout, packets out through pollTransmit, time passed in as nowMs. One
// instance per transfer (session). It composes the units that do the work: the send window
// (input, packets, release), the receiver table (admission, liveness, flow), the retransmit
// handler (repair policy), the rate control (pacing, AIMD) and one table of deadlines.
import {
  ABORT_REASON_NAMES, AbortReason, COOKIE_BYTES, DATA_OVERHEAD_BYTES, DONE_STATUS_NAMES, DoneStatus, DROP_REASON_NAMES,
  DropReason, frameBytes, MAX_ABORT_MESSAGE_BYTES, PacketType, WelcomeVerdict,
} from './constants';
import { clipUtf8, decodePacket, encodePacket, type DonePacket, type JoinPacket, type StatusPacket } from './codec';
import { EventQueue, countDrop, formatEndpoint, type DropCounters, type Endpoint, type Transmit } from './endpoint';
import { RateControl } from './rate-control';
import { ReceiverTable, type ReceiverEntry } from './receiver-table';
import { MAX_PACKETS_PER_NAK_BATCH, RETRANSMIT_DEFAULTS, RetransmitHandler } from './retransmit-handler';
import { SendWindow } from './send-window';
import { buildSenderReport, type SenderReport } from './sender-report';
import { TimerTable } from './timers';

export type { ReceiverReport, SenderReport } from './sender-report';

export interface SenderSessionConfig {
  sessionId: string;
  job: string;
  payloadBytes: number;
  windowBytes: number;
  /** Start as soon as this many receivers joined (and minWaitMs passed since the first). */
  minReceivers: number;
  /** When maxWaitMs expires: start if at least this many joined, else abort. */
  maxWaitMinReceivers: number;
  minWaitMs: number;
  /** 0 = wait for minReceivers forever. */
  maxWaitMs: number;
  maxRateBitsPerSec: number;
  /** Drop a receiver that stays more than half a window behind the fastest this long. 0 = never. */
  dropAfterMs: number;
  /** Drop a receiver not heard from this long. */
  idleTimeoutMs: number;
  maxReceivers: number;
  /** When set, only receivers with these names may join. */
  allowedNames?: readonly string[];
  announceIntervalMs: number;
  heartbeatIntervalMs: number;
  /** Send a short packet when input stalls this long with bytes pending. */
  flushAfterMs: number;
  /** How long ABORT is repeated while receivers have not confirmed it. */
  abortLingerMs: number;
  /** How long a NAKed packet waits before it is repaired (0: at once; see RetransmitHandler). */
  repairDelayMs?: number;
  /** Random per session (crypto.randomBytes in production): the key of the receivers' cookies. */
  cookieSecret: Buffer;
  /** Receivers may join only from addresses this accepts (the interface's subnet by default);
   *  JOINs from elsewhere are dropped unanswered. */
  acceptEndpoint?: (e: Endpoint) => boolean;
  /** Carried in every ANNOUNCE (at most MAX_ANNOUNCE_INFO_BYTES): what the stream is, for the
   *  receivers to check before they join. */
  announceInfo?: string;
  /** A rival's ANNOUNCE/HEARTBEAT further than this from our clock is ignored (a replay). */
  maxClockSkewMs?: number;
}

/** What a sender believes of another sender's clock when told nothing (the receivers' default). */
const DEFAULT_RIVAL_CLOCK_SKEW_MS = 300_000;

export const SENDER_TIMING_DEFAULTS = {
  announceIntervalMs: 100,
  heartbeatIntervalMs: 50,
  flushAfterMs: 5,
  abortLingerMs: 2000,
  maxReceivers: 256,
} as const;

/** How often receivers are checked for silence and for holding the window. */
const CHECK_INTERVAL_MS = 20;
/** A dropped receiver that keeps talking is told again at most this often. */
const DROP_RESEND_INTERVAL_MS = 100;
/** Unicast replies waiting to be sent; beyond this a flood of requests is answered no more. */
const MAX_CONTROL_QUEUE = 1024;
const NO_COOKIE = Buffer.alloc(COOKIE_BYTES);

export type SenderState = 'waiting' | 'sending' | 'ending' | 'aborting' | 'finished';

type SenderTimer = 'announce' | 'heartbeat' | 'check' | 'min-wait' | 'max-wait' | 'abort-repeat' | 'abort-end' | 'flush' | 'repair-delay';

export type SenderEvent =
  | { type: 'joined'; name: string; address: string; receivers: number }
  | { type: 'refused'; name: string; address: string; reason: string }
  | { type: 'started'; receivers: number }
  | { type: 'dropped'; name: string; address: string; reason: string }
  | { type: 'receiver-done'; name: string; address: string; status: string; detail: string }
  | { type: 'aborting'; reason: string; message: string }
  | { type: 'finished'; outcome: 'completed' | 'aborted' };

export class SenderSession {
  private state: SenderState = 'waiting';
  private firstJoinMs: number | null = null;
  private startedAtMs: number | null = null;
  private receiversAtStart: number | null = null;
  private endedAtMs: number | null = null;
  private readonly timers = new TimerTable<SenderTimer>();
  private readonly table: ReceiverTable;
  private readonly window: SendWindow;
  private readonly repairs: RetransmitHandler;
  private readonly rate: RateControl;
  private readonly control: Transmit[] = [];
  private readonly events = new EventQueue<SenderEvent>();
  readonly dropped: DropCounters = {};

  /** New data may go out up to here (see ReceiverTable.flowLimitOffset); refreshed after every input. */
  private flowLimitOffset = Infinity;
  private inputEnded = false;
  private lastInputMs: number;
  private announceDue = true;
  private heartbeatDue = false;
  private abortDue = false;
  private abortReason: AbortReason | null = null;
  private abortMessage = '';

  private dataPacketsSent = 0;
  private repairPacketsSent = 0;
  private bytesOnWire = 0;

  constructor(private readonly cfg: SenderSessionConfig, nowMs: number) {
    this.lastInputMs = nowMs;
    this.table = new ReceiverTable(cfg);
    this.window = new SendWindow(cfg.sessionId, cfg.payloadBytes, cfg.windowBytes);
    this.repairs = new RetransmitHandler({ ...RETRANSMIT_DEFAULTS, repairDelayMs: cfg.repairDelayMs ?? RETRANSMIT_DEFAULTS.repairDelayMs });
    const wireBytes = frameBytes(cfg.payloadBytes + DATA_OVERHEAD_BYTES);
    this.rate = new RateControl({
      maxRateBitsPerSec: cfg.maxRateBitsPerSec,
      minRateFraction: 1 / 16,
      // 5 ms at full rate, so timer slack and GC pauses do not cap the rate (see the bench
      // history). A sender cannot burst faster than its own link, so this matters only behind
      // a slower hop.
      burstBytes: Math.max(8 * wireBytes, cfg.maxRateBitsPerSec / 8 / 200),
      intervalMs: 100,
      lossThreshold: 0.5,
    }, nowMs);
    this.timers.set('announce', nowMs + cfg.announceIntervalMs);
    this.timers.set('check', nowMs + CHECK_INTERVAL_MS);
    if (cfg.maxWaitMs > 0) this.timers.set('max-wait', nowMs + cfg.maxWaitMs);
  }

  get currentState(): SenderState { return this.state; }
  get isFinished(): boolean { return this.state === 'finished'; }
  get bytesAcknowledged(): number { return this.window.baseOffset; }
  /** Bytes the window holds and packets the repair handler tracks: for memory bounds in tests. */
  get memory(): { heldBytes: number; repairEntries: number } { return { heldBytes: this.window.heldBytes, repairEntries: this.repairs.trackedPackets }; }
  /** Internal consistency, for tests and the simulator; empty = consistent. */
  invariants(): string[] { return this.window.invariants(); }

  // ------------------------------------------------------------ inputs

  private get acceptsInput(): boolean { return (this.state === 'waiting' || this.state === 'sending') && !this.inputEnded; }

  /** How many more input bytes the window can take now. */
  inputSpaceBytes(): number { return this.acceptsInput ? this.window.spaceBytes() : 0; }

  handleInput(chunk: Buffer, nowMs: number): void {
    if (!this.acceptsInput || chunk.length === 0) return;
    this.window.push(chunk);
    this.lastInputMs = nowMs;
    if (this.window.hasPendingInput) this.timers.set('flush', nowMs + this.cfg.flushAfterMs);
  }

  /** The input ended cleanly (EOF and, for a command, exit status 0). */
  handleInputEnd(nowMs: number): void {
    if (!this.acceptsInput) return;
    this.inputEnded = true;
    this.window.end();
    this.timers.cancel('flush');
    this.evaluate(nowMs);
  }

  handleInputFailed(message: string, nowMs: number): void {
    this.abort(AbortReason.InputFailed, message, nowMs);
  }

  /** The operator interrupted the transfer (SIGINT/SIGTERM). */
  handleInterrupt(nowMs: number): void {
    this.abort(AbortReason.Interrupted, 'sender interrupted', nowMs);
  }

  /** A packet heard on the group while waiting for receivers (the driver listens there only
   *  until the transfer starts): another sender announcing this same job is a split brain, and
   *  this sender refuses to race it. The receivers refuse both (ReceiverSession). */
  handleGroupPacket(bytes: Buffer, from: Endpoint, nowMs: number): void {
    if (this.state !== 'waiting') return;
    const res = decodePacket(bytes);
    if (!res.ok) return;
    const p = res.packet;
    if (p.sessionId === this.cfg.sessionId || (p.type !== PacketType.Announce && p.type !== PacketType.Heartbeat) || p.job !== this.cfg.job) return;
    if (Math.abs(p.senderTimeMs - nowMs) > (this.cfg.maxClockSkewMs ?? DEFAULT_RIVAL_CLOCK_SKEW_MS)) { countDrop(this.dropped, 'stale-rival'); return; }
    this.abort(AbortReason.SplitBrain, `another sender announces job '${this.cfg.job}' (session ${p.sessionId} from ${formatEndpoint(from)}): split brain, refusing to race it`, nowMs);
    this.evaluate(nowMs);
  }

  handlePacket(bytes: Buffer, from: Endpoint, nowMs: number): void {
    const res = decodePacket(bytes);
    if (!res.ok) { countDrop(this.dropped, res.reason); return; }
    const p = res.packet;
    if (p.sessionId !== this.cfg.sessionId) { countDrop(this.dropped, 'foreign-session'); return; }
    switch (p.type) {
      case PacketType.Join: this.handleJoin(p, from, nowMs); break;
      case PacketType.Status: this.handleStatus(p, from, nowMs); break;
      case PacketType.Done: this.handleDone(p, from, nowMs); break;
      default: countDrop(this.dropped, 'unexpected-type');
    }
    this.evaluate(nowMs);
  }

  /** Fire every deadline that is due. Drivers call it when the time pollTimeoutMs gave has come. */
  handleTimeout(nowMs: number): void {
    for (const name of this.timers.takeDue(nowMs)) this.fire(name, nowMs);
    this.evaluate(nowMs);
  }

  private fire(name: SenderTimer, nowMs: number): void {
    const hb = this.cfg.heartbeatIntervalMs;
    switch (name) {
      case 'announce':
        if (this.state !== 'waiting' && !this.splitBrain) return;
        this.announceDue = true;
        this.timers.set('announce', nowMs + this.cfg.announceIntervalMs);
        return;
      case 'heartbeat':
        if (this.state !== 'sending' && this.state !== 'ending') return;
        this.heartbeatDue = true;
        this.timers.set('heartbeat', nowMs + hb);
        return;
      case 'check':
        this.timers.set('check', nowMs + CHECK_INTERVAL_MS);
        for (const { entry, reason } of this.table.overdue(nowMs, this.cfg.idleTimeoutMs, this.cfg.dropAfterMs, this.state === 'sending')) this.drop(entry, reason, nowMs);
        return;
      case 'min-wait':
        return; // evaluate() starts the transfer if enough receivers are there
      case 'max-wait': {
        if (this.state !== 'waiting') return;
        const live = this.table.countLive();
        if (live >= Math.max(1, this.cfg.maxWaitMinReceivers)) this.start(nowMs);
        else this.abort(AbortReason.NoReceivers, `only ${live} of ${this.cfg.minReceivers} receivers joined within max-wait`, nowMs);
        return;
      }
      case 'abort-repeat':
        this.abortDue = true;
        this.timers.set('abort-repeat', nowMs + hb);
        return;
      case 'abort-end':
        this.finishAbort(nowMs);
        return;
      case 'flush':
        // The input stalled with a partial packet and everything before it went out: send it
        // short rather than hold it. (While packets wait for the window or the pacer, the input
        // stalls because of us; pollData re-arms this once the last of them is sent.)
        if (this.window.hasPendingInput && nowMs - this.lastInputMs >= this.cfg.flushAfterMs && this.window.peekNew() === null) this.window.packetize(true);
        return;
      case 'repair-delay':
        this.repairs.handleTimeout(nowMs);
        this.armRepairDelay();
        return;
      default:
    }
  }

  /** State changes that follow from conditions (not from a deadline): checked after every input. */
  private evaluate(nowMs: number): void {
    const live = this.table.countLive();
    if (this.state === 'waiting' && live >= this.cfg.minReceivers && this.firstJoinMs !== null && nowMs - this.firstJoinMs >= this.cfg.minWaitMs) {
      this.start(nowMs);
    }
    if (this.state === 'sending' && this.inputEnded && this.window.allSent) this.enterEnding(nowMs);
    if ((this.state === 'sending' || this.state === 'ending') && live === 0) {
      // Every receiver left and one of them saw a rival of this job: a split brain, so linger
      // announcing it (abort) and a rival still waiting for receivers hears it and stops too.
      const rivalSeen = this.splitBrainReport();
      if (rivalSeen !== null) this.abort(AbortReason.SplitBrain, rivalSeen, nowMs);
      else if (this.state === 'ending') this.finish(nowMs);
      else this.abort(AbortReason.NoReceiversLeft, 'every receiver failed or was dropped', nowMs);
    }
    // A split brain lingers (ABORT repeated, JOINs answered) so every receiver hears why.
    if (this.state === 'aborting' && this.table.countLive() === 0 && this.abortReason !== AbortReason.SplitBrain) this.finishAbort(nowMs);
    this.flowLimitOffset = this.table.flowLimitOffset();
  }

  /** A JOIN without the cookie of its endpoint is answered on the group with one, and nothing is
   *  stored: a spoofed source gets no byte from us and takes no slot. Only a JOIN that brings the
   *  cookie back (the sender reached it) is admitted or refused, by unicast to that endpoint. */
  private handleJoin(p: JoinPacket, from: Endpoint, nowMs: number): void {
    if (this.cfg.acceptEndpoint && !this.cfg.acceptEndpoint(from)) { countDrop(this.dropped, 'outside-network'); return; }
    const a = this.table.admit(p, from, this.state === 'waiting', nowMs);
    switch (a.kind) {
      case 'validate':
        if (!p.cookie.equals(NO_COOKIE)) countDrop(this.dropped, 'bad-cookie');
        this.queueControl({ to: null, bytes: this.welcome(p, a.cookie, WelcomeVerdict.Validate, 0, 0, nowMs) });
        return;
      case 'known':
        if (a.entry.state === 'live') this.queueWelcome(a.entry, p, nowMs);
        else if (a.entry.state === 'dropped') this.queueDrop(a.entry, nowMs);
        return;
      case 'refused':
        this.queueControl({ to: from, bytes: this.welcome(p, a.cookie, WelcomeVerdict.Refused, 0, a.reason, nowMs) });
        if (a.firstTime) this.events.push({ type: 'refused', name: p.name, address: formatEndpoint(from), reason: DROP_REASON_NAMES[a.reason] });
        return;
      case 'admitted':
        if (this.firstJoinMs === null) {
          this.firstJoinMs = nowMs;
          if (this.cfg.minWaitMs > 0) this.timers.set('min-wait', nowMs + this.cfg.minWaitMs);
        }
        this.queueWelcome(a.entry, p, nowMs);
        this.events.push({ type: 'joined', name: a.entry.name, address: formatEndpoint(from), receivers: this.table.countLive() });
        return;
      default:
    }
  }

  private queueControl(t: Transmit): void {
    if (this.control.length >= MAX_CONTROL_QUEUE) { countDrop(this.dropped, 'control-queue-full'); return; }
    this.control.push(t);
  }

  private queueWelcome(r: ReceiverEntry, p: JoinPacket, nowMs: number): void {
    this.table.noteJoinClock(r, p, nowMs);
    this.queueControl({ to: r.endpoint, bytes: this.welcome(p, r.cookie, WelcomeVerdict.Admitted, r.id, 0, nowMs) });
  }

  private welcome(p: JoinPacket, cookie: Buffer, verdict: WelcomeVerdict, receiverId: number, refusal: number, nowMs: number): Buffer {
    return encodePacket({
      type: PacketType.Welcome, sessionId: this.cfg.sessionId, challenge: p.challenge, cookie, receiverId, verdict, refusal,
      echoReceiverTimeMs: p.receiverTimeMs, senderTimeMs: nowMs,
    });
  }

  private queueDrop(r: ReceiverEntry, nowMs: number): void {
    if (nowMs - r.lastDropSentMs < DROP_RESEND_INTERVAL_MS || r.dropReason === null) return;
    r.lastDropSentMs = nowMs;
    this.queueControl({ to: r.endpoint, bytes: encodePacket({ type: PacketType.Drop, sessionId: this.cfg.sessionId, receiverId: r.id, reason: r.dropReason }) });
  }

  private validated(p: StatusPacket | DonePacket, from: Endpoint, nowMs: number): ReceiverEntry | null {
    const r = this.table.validate(p, from);
    if (typeof r === 'string') { countDrop(this.dropped, r); return null; }
    r.lastHeardMs = nowMs;
    return r;
  }

  private handleStatus(p: StatusPacket, from: Endpoint, nowMs: number): void {
    const r = this.validated(p, from, nowMs);
    if (!r) return;
    if (r.state === 'dropped') { this.queueDrop(r, nowMs); return; }
    if (r.state === 'done') return;
    const sentEnd = this.window.sentEndOffset;
    if (p.contiguousOffset > sentEnd) { countDrop(this.dropped, 'status-beyond-sent'); return; }
    const advanced = this.table.noteStatus(r, p, sentEnd, nowMs);
    const batch = { packets: MAX_PACKETS_PER_NAK_BATCH };
    let exhausted = false;
    for (const range of p.naks) {
      if (batch.packets <= 0) { countDrop(this.dropped, 'naks-beyond-budget'); break; }
      // Never for data it has acknowledged, never beyond what was sent.
      const res = this.repairs.handleNak(r, Math.max(range.start, r.contiguousOffset), Math.min(range.end, sentEnd), this.window, nowMs, batch);
      r.nakPackets += res.nakedPackets;
      for (const [reason, n] of Object.entries(res.refused)) this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
      exhausted ||= res.exhausted;
    }
    this.armRepairDelay();
    if (exhausted) { this.drop(r, DropReason.Slow, nowMs); return; }
    if (advanced) this.releaseDelivered();
  }

  private armRepairDelay(): void {
    const at = this.repairs.nextDeadlineMs();
    if (Number.isFinite(at)) this.timers.set('repair-delay', at); else this.timers.cancel('repair-delay');
  }

  private handleDone(p: DonePacket, from: Endpoint, nowMs: number): void {
    const r = this.validated(p, from, nowMs);
    if (!r) return;
    // Always confirm, so a receiver whose DONE_ACK was lost can stop repeating.
    this.queueControl({ to: r.endpoint, bytes: encodePacket({ type: PacketType.DoneAck, sessionId: this.cfg.sessionId, receiverId: r.id }) });
    if (r.state !== 'live') return;
    r.state = 'done';
    r.done = p;
    r.finishedAtMs = nowMs;
    this.repairs.forget(r.id);
    this.events.push({ type: 'receiver-done', name: r.name, address: formatEndpoint(r.endpoint), status: DONE_STATUS_NAMES[p.status], detail: p.detail });
    this.releaseDelivered();
  }

  /** Packets every live receiver delivered leave the window. */
  private releaseDelivered(): void {
    const base = this.table.deliveredByAll();
    if (base === null) return; // nobody left: evaluate() decides what happens
    this.window.release(base);
    this.repairs.release(this.window);
  }

  // ------------------------------------------------------------ state changes

  private start(nowMs: number): void {
    this.state = 'sending';
    this.startedAtMs = nowMs;
    this.receiversAtStart = this.table.countLive();
    this.announceDue = false;
    this.heartbeatDue = true;
    for (const t of ['announce', 'min-wait', 'max-wait'] as const) this.timers.cancel(t);
    this.timers.set('heartbeat', nowMs + this.cfg.heartbeatIntervalMs);
    this.events.push({ type: 'started', receivers: this.table.countLive() });
  }

  private enterEnding(nowMs: number): void {
    this.state = 'ending';
    this.heartbeatDue = true; // END goes out at once
    this.timers.set('heartbeat', nowMs + this.cfg.heartbeatIntervalMs);
  }

  private get splitBrain(): boolean { return this.abortReason === AbortReason.SplitBrain; }

  /** What a receiver that refused this session as a split brain said, or null. */
  private splitBrainReport(): string | null {
    for (const r of this.table.all()) {
      if (r.state === 'done' && r.done?.status === DoneStatus.SplitBrain) return `receiver ${r.name} saw another sender of job '${this.cfg.job}': ${r.done.detail}`;
    }
    return null;
  }

  private abort(reason: AbortReason, message: string, nowMs: number): void {
    if (this.state === 'aborting' || this.state === 'finished') return;
    if (this.state === 'ending' && reason === AbortReason.InputFailed) return; // input already verified complete
    this.state = 'aborting';
    this.abortReason = reason;
    this.abortMessage = clipUtf8(message, MAX_ABORT_MESSAGE_BYTES);
    this.window.discardPending();
    // A split brain keeps announcing while it lingers: the rival hears it and stops too, and every
    // receiver sees two live senders (the first to hear the other must not leave the other to win).
    this.announceDue = this.splitBrain;
    this.heartbeatDue = false;
    this.abortDue = true;
    for (const t of [...(this.splitBrain ? [] : ['announce'] as const), 'heartbeat', 'min-wait', 'max-wait', 'flush', 'repair-delay'] as const) this.timers.cancel(t);
    // (Re-armed: a transfer that had started cancelled the announce deadline.)
    if (this.splitBrain) this.timers.set('announce', nowMs + this.cfg.announceIntervalMs);
    this.timers.set('abort-repeat', nowMs + this.cfg.heartbeatIntervalMs);
    this.timers.set('abort-end', nowMs + this.cfg.abortLingerMs);
    this.events.push({ type: 'aborting', reason: ABORT_REASON_NAMES[reason], message: this.abortMessage });
  }

  /** The abort was repeated long enough (or everyone confirmed it): receivers that did not
   *  confirm are reported as dropped. */
  private finishAbort(nowMs: number): void {
    for (const r of this.table.all()) if (r.state === 'live') { r.state = 'dropped'; r.dropReason = DropReason.Aborted; r.finishedAtMs = nowMs; }
    this.finish(nowMs);
  }

  private finish(nowMs: number): void {
    this.state = 'finished';
    this.endedAtMs = nowMs;
    for (const [name] of this.timers.entries()) this.timers.cancel(name);
    this.events.push({ type: 'finished', outcome: this.abortReason === null ? 'completed' : 'aborted' });
  }

  private drop(r: ReceiverEntry, reason: DropReason, nowMs: number): void {
    if (r.state !== 'live') return;
    r.state = 'dropped';
    r.dropReason = reason;
    r.finishedAtMs = nowMs;
    this.repairs.forget(r.id);
    this.queueDrop(r, nowMs);
    this.events.push({ type: 'dropped', name: r.name, address: formatEndpoint(r.endpoint), reason: DROP_REASON_NAMES[reason] });
    this.releaseDelivered();
  }

  // ------------------------------------------------------------ outputs

  /** The next datagram to send now, or null. Fires no deadline (that is handleTimeout's job). */
  pollTransmit(nowMs: number): Transmit | null {
    const c = this.control.shift();
    if (c) return c;
    const sid = this.cfg.sessionId;
    switch (this.state) {
      case 'waiting':
        if (!this.announceDue) return null;
        this.announceDue = false;
        return { to: null, bytes: encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: nowMs, windowBytes: this.cfg.windowBytes, payloadBytes: this.cfg.payloadBytes, job: this.cfg.job, info: this.cfg.announceInfo ?? '' }) };
      case 'sending':
      case 'ending':
        if (this.heartbeatDue) {
          this.heartbeatDue = false;
          if (this.state === 'ending') {
            return { to: null, bytes: encodePacket({ type: PacketType.End, sessionId: sid, totalBytes: this.window.inputBytes, sha256: this.window.sha256 as Buffer, senderTimeMs: nowMs }) };
          }
          return { to: null, bytes: encodePacket({ type: PacketType.Heartbeat, sessionId: sid, sentEndOffset: this.window.sentEndOffset, senderTimeMs: nowMs, job: this.cfg.job }) };
        }
        return this.pollData(nowMs);
      case 'aborting':
        if (this.announceDue) {
          this.announceDue = false;
          return { to: null, bytes: encodePacket({ type: PacketType.Announce, sessionId: sid, senderTimeMs: nowMs, windowBytes: this.cfg.windowBytes, payloadBytes: this.cfg.payloadBytes, job: this.cfg.job, info: this.cfg.announceInfo ?? '' }) };
        }
        if (!this.abortDue || this.abortReason === null) return null;
        this.abortDue = false;
        return { to: null, bytes: encodePacket({ type: PacketType.Abort, sessionId: sid, reason: this.abortReason, message: this.abortMessage }) };
      default:
        return null;
    }
  }

  /** New data waits while the slowest receiver's socket buffer could not take it. */
  private nextNewPacket(): Buffer | null {
    const p = this.window.peekNew();
    return p && p.offset + p.length <= this.flowLimitOffset ? p.encoded : null;
  }

  private pollData(nowMs: number): Transmit | null {
    const repair = this.repairs.peek(this.window, this.table.isLive);
    const encoded = repair ? repair.packet.encoded : this.nextNewPacket();
    if (!encoded) return null;
    const wire = frameBytes(encoded.length);
    if (this.rate.waitMs(wire, nowMs) > 0) return null;
    this.rate.handleSent(wire, repair !== null, nowMs);
    this.bytesOnWire += wire;
    if (repair) {
      this.repairs.markSent(nowMs);
      this.repairPacketsSent++;
      const to = repair.to === null ? null : this.table.get(repair.to)?.endpoint ?? null;
      return { to, bytes: encoded };
    }
    this.window.markNewSent(nowMs);
    this.dataPacketsSent++;
    if (this.window.hasPendingInput && this.window.peekNew() === null) this.timers.set('flush', Math.max(nowMs, this.lastInputMs + this.cfg.flushAfterMs));
    if (this.inputEnded && this.window.allSent) this.enterEnding(nowMs);
    return { to: null, bytes: encoded };
  }

  /** Ms until handleTimeout or pollTransmit has something to do (0 = now). Changes nothing. */
  pollTimeoutMs(nowMs: number): number {
    if (this.state === 'finished') return Infinity;
    if (this.control.length > 0 || this.announceDue || this.heartbeatDue || this.abortDue) return 0;
    let next = this.timers.next();
    if (this.state === 'sending' || this.state === 'ending') {
      const encoded = this.repairs.hasReady ? this.cfg.payloadBytes + DATA_OVERHEAD_BYTES : this.nextNewPacket()?.length;
      if (encoded !== undefined) next = Math.min(next, nowMs + this.rate.waitMs(frameBytes(encoded), nowMs));
    }
    return Math.max(0, next - nowMs);
  }

  pollEvent(): SenderEvent | null { return this.events.shift(); }

  report(): SenderReport {
    return buildSenderReport({
      sessionId: this.cfg.sessionId, job: this.cfg.job,
      abortReason: this.abortReason === null ? null : ABORT_REASON_NAMES[this.abortReason], abortMessage: this.abortMessage,
      totalBytes: this.window.inputBytes, sha256: this.window.sha256,
      startedAtMs: this.startedAtMs, endedAtMs: this.endedAtMs,
      dataPacketsSent: this.dataPacketsSent, repairPacketsSent: this.repairPacketsSent, bytesOnWire: this.bytesOnWire,
      receivers: this.table.all(), refused: this.table.refused, dropped: this.dropped,
      expectedNames: this.cfg.allowedNames, minReceivers: this.cfg.minReceivers, receiversAtStart: this.receiversAtStart,
    });
  }
}
