// The sender's table of receivers: admission (cookie proven, allow-list, one name once, a
// limit), what each has received and delivered, its flow window and round trip, and the
// liveness rules (silent, holding the window). It returns decisions; the session acts on them.
import { createHmac } from 'crypto';
import { COOKIE_BYTES, DROP_REASON_NAMES, DropReason, INITIAL_FLOW_WINDOW_BYTES, MIN_FLOW_WINDOW_BYTES } from './constants';
import type { DonePacket, JoinPacket, StatusPacket } from './codec';
import { formatEndpoint, sameEndpoint, type Endpoint } from './endpoint';

export interface ReceiverTableConfig {
  sessionId: string;
  windowBytes: number;
  payloadBytes: number;
  maxReceivers: number;
  allowedNames?: readonly string[];
  /** Random per session: the key of the receivers' cookies. */
  cookieSecret: Buffer;
}

/** Round trip assumed for a receiver until its first STATUS echo. */
export const INITIAL_RTT_MS = 10;
/** RTT samples beyond this are not round trips (a receiver that was paused): ignored. */
const MAX_RTT_SAMPLE_MS = 10_000;
/** Refused JOINs kept for the report. */
const MAX_REFUSED_IN_REPORT = 64;

export interface ReceiverEntry {
  /** Assigned here, in order of admission. */
  id: number;
  name: string;
  endpoint: Endpoint;
  /** Proof of the endpoint: every STATUS and DONE must carry it. */
  cookie: Buffer;
  state: 'live' | 'done' | 'dropped';
  joinedAtMs: number;
  lastHeardMs: number;
  deliveredOffset: number;
  contiguousOffset: number;
  /** Flow control: what it has read off its socket, and how much more its buffer takes. */
  receivedEndOffset: number;
  flowWindowBytes: number;
  /** It sent a STATUS since it was admitted: it has its WELCOME, so DATA sent now is not dropped
   *  as arriving before it (the WELCOME is unicast, DATA multicast: they can overtake each other). */
  statusSeen: boolean;
  srttMs: number;
  holdingSinceMs: number | null;
  lastDropSentMs: number;
  finishedAtMs: number | null;
  done: DonePacket | null;
  dropReason: DropReason | null;
  nakPackets: number;
  clockOffsetMs: number | null;
}

export type Admission =
  | { kind: 'validate'; cookie: Buffer }
  | { kind: 'known'; entry: ReceiverEntry }
  | { kind: 'refused'; cookie: Buffer; reason: DropReason; firstTime: boolean }
  | { kind: 'admitted'; entry: ReceiverEntry };

export interface RefusedJoin { name: string; address: string; reason: string }

export class ReceiverTable {
  private readonly byId = new Map<number, ReceiverEntry>();
  private nextId = 1;
  readonly refused: RefusedJoin[] = [];
  private readonly refusedAddresses = new Set<string>();

  constructor(private readonly cfg: ReceiverTableConfig) {}

  /** The cookie for a challenge from an endpoint: nothing is stored until it comes back. */
  cookieFor(challenge: Buffer, from: Endpoint): Buffer {
    return createHmac('sha256', this.cfg.cookieSecret)
      .update(this.cfg.sessionId).update(challenge).update(`${from.address}/${from.port}`)
      .digest().subarray(0, COOKIE_BYTES);
  }

  /** What to do with a JOIN. `open` is false once the transfer started (late joiners are refused). */
  admit(p: JoinPacket, from: Endpoint, open: boolean, nowMs: number): Admission {
    const cookie = this.cookieFor(p.challenge, from);
    if (!cookie.equals(p.cookie)) return { kind: 'validate', cookie };
    for (const r of this.byId.values()) {
      if (r.cookie.equals(cookie)) { r.lastHeardMs = nowMs; return { kind: 'known', entry: r }; }
    }
    let reason: DropReason | null = null;
    const allowed = this.cfg.allowedNames;
    if (!open) reason = DropReason.Late;
    else if (allowed && !allowed.includes(p.name)) reason = DropReason.NotAllowed;
    else if (allowed && [...this.byId.values()].some((r) => r.name === p.name)) reason = DropReason.DuplicateName;
    else if (this.byId.size >= this.cfg.maxReceivers) reason = DropReason.Full;
    if (reason !== null) {
      const address = formatEndpoint(from);
      const firstTime = !this.refusedAddresses.has(address) && this.refusedAddresses.size < MAX_REFUSED_IN_REPORT;
      if (firstTime) { this.refusedAddresses.add(address); this.refused.push({ name: p.name, address, reason: DROP_REASON_NAMES[reason] }); }
      return { kind: 'refused', cookie, reason, firstTime };
    }
    const entry: ReceiverEntry = {
      id: this.nextId++, name: p.name, endpoint: { ...from }, cookie, state: 'live', joinedAtMs: nowMs,
      lastHeardMs: nowMs, deliveredOffset: 0, contiguousOffset: 0, receivedEndOffset: 0,
      flowWindowBytes: this.clampFlowWindow(INITIAL_FLOW_WINDOW_BYTES), statusSeen: false, srttMs: INITIAL_RTT_MS, holdingSinceMs: null,
      lastDropSentMs: -Infinity, finishedAtMs: null, done: null, dropReason: null, nakPackets: 0, clockOffsetMs: null,
    };
    this.byId.set(entry.id, entry);
    return { kind: 'admitted', entry };
  }

  /** NTP-style clock offset from the announce time a JOIN echoed. */
  noteJoinClock(r: ReceiverEntry, p: JoinPacket, nowMs: number): void {
    if (p.echoSenderTimeMs > 0 && nowMs >= p.echoSenderTimeMs) {
      r.clockOffsetMs = Math.round(p.receiverTimeMs - (p.echoSenderTimeMs + nowMs) / 2);
    }
  }

  /** The receiver a STATUS or DONE claims to be if it proves it (endpoint and cookie), else why not. */
  validate(p: StatusPacket | DonePacket, from: Endpoint): ReceiverEntry | string {
    const r = this.byId.get(p.receiverId);
    if (!r) return 'unknown-receiver';
    if (!sameEndpoint(r.endpoint, from)) return 'receiver-address-mismatch';
    if (!r.cookie.equals(p.cookie)) return 'bad-cookie';
    return r;
  }

  /** Take a STATUS in. Returns whether the receiver's delivered point moved. */
  noteStatus(r: ReceiverEntry, p: StatusPacket, sentEndOffset: number, nowMs: number): boolean {
    if (p.echoSenderTimeMs > 0) {
      const sample = nowMs - p.echoSenderTimeMs - p.holdMs;
      if (sample >= 0 && sample < MAX_RTT_SAMPLE_MS) r.srttMs = 0.875 * r.srttMs + 0.125 * sample;
    }
    r.statusSeen = true;
    const advanced = p.deliveredOffset > r.deliveredOffset;
    r.deliveredOffset = Math.max(r.deliveredOffset, p.deliveredOffset);
    r.contiguousOffset = Math.max(r.contiguousOffset, p.contiguousOffset);
    // STATUS packets can arrive out of order: the read point only moves forward.
    r.receivedEndOffset = Math.max(r.receivedEndOffset, Math.min(p.receivedEndOffset, sentEndOffset));
    r.flowWindowBytes = this.clampFlowWindow(p.flowWindowBytes);
    return advanced;
  }

  private clampFlowWindow(bytes: number): number {
    return Math.min(this.cfg.windowBytes, Math.max(MIN_FLOW_WINDOW_BYTES, this.cfg.payloadBytes, bytes));
  }

  get(id: number): ReceiverEntry | undefined { return this.byId.get(id); }
  all(): IterableIterator<ReceiverEntry> { return this.byId.values(); }
  isLive = (id: number): boolean => this.byId.get(id)?.state === 'live';

  countLive(): number {
    let n = 0;
    for (const r of this.byId.values()) if (r.state === 'live') n++;
    return n;
  }

  /** New data may go out up to here: the slowest live receiver's read point plus its flow
   *  window; nothing before every live receiver has sent its first STATUS. */
  flowLimitOffset(): number {
    let limit = Infinity;
    for (const r of this.byId.values()) {
      if (r.state === 'live') limit = Math.min(limit, r.statusSeen ? r.receivedEndOffset + r.flowWindowBytes : 0);
    }
    return limit;
  }

  /** What every live receiver has delivered; null when none is live. */
  deliveredByAll(): number | null {
    let base = Infinity;
    for (const r of this.byId.values()) if (r.state === 'live') base = Math.min(base, r.deliveredOffset);
    return base === Infinity ? null : base;
  }

  /** Receivers to drop now: silent for idleTimeoutMs, or (while sending, with dropAfterMs > 0)
   *  more than half a window behind the fastest for dropAfterMs. Equally slow receivers hold nobody. */
  overdue(nowMs: number, idleTimeoutMs: number, dropAfterMs: number, sending: boolean): { entry: ReceiverEntry; reason: DropReason }[] {
    const out: { entry: ReceiverEntry; reason: DropReason }[] = [];
    const live = [...this.byId.values()].filter((r) => r.state === 'live');
    for (const r of live) if (nowMs - r.lastHeardMs >= idleTimeoutMs) out.push({ entry: r, reason: DropReason.Silent });
    if (dropAfterMs <= 0 || !sending || live.length === 0) return out;
    const leader = Math.max(...live.map((r) => r.deliveredOffset));
    for (const r of live) {
      if (leader - r.deliveredOffset <= this.cfg.windowBytes / 2) { r.holdingSinceMs = null; continue; }
      r.holdingSinceMs ??= nowMs;
      if (nowMs - r.holdingSinceMs >= dropAfterMs && !out.some((o) => o.entry === r)) out.push({ entry: r, reason: DropReason.Slow });
    }
    return out;
  }
}
