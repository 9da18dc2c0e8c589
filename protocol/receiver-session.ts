// The receiver's state machine, sans-IO: packets in through handlePacket, verified bytes out
// in order through pollDelivery, control packets out through pollTransmit, time passed in.
import { createHash, type Hash } from 'crypto';
import {
  ABORT_REASON_NAMES, DEFAULT_FLOW_WINDOW_BYTES, DROP_REASON_NAMES, DoneStatus, DropReason, MAX_DETAIL_BYTES, MAX_NAK_RANGES, PacketType, RestoreOutcome,
} from './constants';
import { clipUtf8, decodePacket, encodePacket, type DataPacket, type Packet } from './codec';
import {
  EventQueue, countDrop, formatEndpoint, sameEndpoint, type DropCounters, type Endpoint, type Transmit,
} from './endpoint';
import { RangeSet } from './range-set';

export interface ReceiverSessionConfig {
  /** Random per process, so several receivers can share a host. */
  receiverId: number;
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
}

export const RECEIVER_TIMING_DEFAULTS = {
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
};

export type ReceiverOutcomeCode =
  | 'ok' | 'no-session' | 'refused' | 'dropped' | 'aborted' | 'hash-mismatch' | 'timeout'
  | 'sink-failed' | 'local-error' | 'preflight-failed';

export interface ReceiverOutcome {
  code: ReceiverOutcomeCode;
  message: string;
}

export type ReceiverEvent =
  | { type: 'locked'; sessionId: string; sender: string; windowBytes: number; payloadBytes: number }
  | { type: 'announce-refused'; sender: string; reason: string }
  | { type: 'joined'; sessionId: string }
  | { type: 'verified'; bytes: number; sha256: string }
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
  private readonly createdAtMs: number;
  private outcome: ReceiverOutcome | null = null;
  private readonly events = new EventQueue<ReceiverEvent>();
  readonly dropped: DropCounters = {};

  private sessionId: string | null = null;
  private sender: Endpoint | null = null;
  private windowBytes = 0;
  private payloadBytes = 0;
  private lastHeardMs = 0;
  private lastAnnounceTimeMs = 0;
  private nextJoinMs = 0;

  // Stream. Offsets: delivered <= contiguous <= highestEnd <= knownEnd.
  private readonly store = new Map<number, Buffer>();
  private readonly ahead = new RangeSet();
  private deliveredOffset = 0;
  private contiguousOffset = 0;
  private highestEnd = 0;
  private sentEndOffset = 0;
  private totalBytes: number | null = null;
  private expectedSha256: Buffer | null = null;
  private readonly hash: Hash = createHash('sha256');
  private actualSha256: Buffer | null = null;
  private restoreOutcome = RestoreOutcome.None;
  private repairsRequested = 0;
  private duplicates = 0;

  // Status reporting.
  private lastStatusMs = -Infinity;
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
  private reportingSinceMs = 0;
  private nextDoneMs = 0;
  private doneConfirmed = false;

  constructor(private readonly cfg: ReceiverSessionConfig, nowMs: number) {
    this.flowWindowBytes = Math.max(1, Math.min(0xffffffff, Math.floor(cfg.flowWindowBytes ?? DEFAULT_FLOW_WINDOW_BYTES)));
    this.createdAtMs = nowMs;
  }

  get currentState(): ReceiverState { return this.state; }
  get isFinished(): boolean { return this.state === 'finished'; }
  get result(): ReceiverOutcome | null { return this.outcome; }
  /** True once every byte was delivered and the SHA-256 matched: sinks may be finalized. */
  get isVerified(): boolean { return this.state === 'delivered'; }
  get bytesDelivered(): number { return this.deliveredOffset; }
  /** Verified in-order bytes waiting for the sinks. */
  get bytesReady(): number { return this.contiguousOffset - this.deliveredOffset; }

  stats(): ReceiverStats {
    return {
      sessionId: this.sessionId, sender: this.sender ? formatEndpoint(this.sender) : null,
      bytesDelivered: this.deliveredOffset, totalBytes: this.totalBytes,
      sha256: this.actualSha256 ? this.actualSha256.toString('hex') : null,
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
    if (this.sessionId === null) { this.handleUnlocked(p, from, nowMs); return; }
    if (p.sessionId !== this.sessionId) { countDrop(this.dropped, 'foreign-session'); return; }
    if (this.sender === null || !sameEndpoint(this.sender, from)) { countDrop(this.dropped, 'foreign-sender'); return; }
    this.lastHeardMs = nowMs;
    this.handleLocked(p, nowMs);
  }

  private handleUnlocked(p: Packet, from: Endpoint, nowMs: number): void {
    // A heartbeat means the job's session already runs: join anyway, to be refused loudly.
    if ((p.type !== PacketType.Announce && p.type !== PacketType.Heartbeat) || p.job !== this.cfg.job) {
      countDrop(this.dropped, 'foreign-session');
      return;
    }
    if (this.cfg.senderAddress !== undefined && from.address !== this.cfg.senderAddress) {
      countDrop(this.dropped, 'sender-not-allowed');
      return;
    }
    if (p.type === PacketType.Announce) {
      if (p.windowBytes > this.cfg.maxWindowBytes) {
        countDrop(this.dropped, 'window-too-large');
        this.events.push({ type: 'announce-refused', sender: formatEndpoint(from), reason: `window of ${p.windowBytes} bytes exceeds this receiver's limit of ${this.cfg.maxWindowBytes}` });
        return;
      }
      this.windowBytes = p.windowBytes;
      this.payloadBytes = p.payloadBytes;
      this.lastAnnounceTimeMs = p.senderTimeMs;
      this.echoSenderTimeMs = p.senderTimeMs;
      this.echoReceivedAtMs = nowMs;
    }
    this.sessionId = p.sessionId;
    this.sender = { ...from };
    this.lastHeardMs = nowMs;
    this.state = 'joining';
    this.nextJoinMs = nowMs;
    this.events.push({ type: 'locked', sessionId: p.sessionId, sender: formatEndpoint(from), windowBytes: this.windowBytes, payloadBytes: this.payloadBytes });
  }

  private handleLocked(p: Packet, nowMs: number): void {
    switch (p.type) {
      case PacketType.Announce:
        this.lastAnnounceTimeMs = p.senderTimeMs;
        this.noteSenderTime(p.senderTimeMs, nowMs);
        return;
      case PacketType.Welcome:
        if (p.receiverId !== this.cfg.receiverId) { countDrop(this.dropped, 'not-for-us'); return; }
        if (this.state === 'joining') {
          this.state = 'receiving';
          this.events.push({ type: 'joined', sessionId: this.sessionId as string });
        }
        return;
      case PacketType.Drop:
        if (p.receiverId !== this.cfg.receiverId) { countDrop(this.dropped, 'not-for-us'); return; }
        if (this.state === 'reporting') { this.finishReported(); return; } // our own verdict stands
        this.finish(p.reason === DropReason.Late || this.state === 'joining'
          ? { code: 'refused', message: `sender refused this receiver: ${DROP_REASON_NAMES[p.reason]}` }
          : { code: 'dropped', message: `sender dropped this receiver: ${DROP_REASON_NAMES[p.reason]}` });
        return;
      case PacketType.Abort:
        // Once every byte is verified, an abort (say, the sender was interrupted) changes nothing here.
        if (this.state === 'reporting' || this.state === 'delivered') return;
        this.report(DoneStatus.Aborted, `sender aborted: ${ABORT_REASON_NAMES[p.reason]}${p.message ? ` (${p.message})` : ''}`, nowMs);
        return;
      case PacketType.DoneAck:
        if (p.receiverId !== this.cfg.receiverId) { countDrop(this.dropped, 'not-for-us'); return; }
        if (this.state === 'reporting') { this.doneConfirmed = true; this.finishReported(); }
        return;
      case PacketType.Heartbeat:
        this.noteSenderTime(p.senderTimeMs, nowMs);
        if (this.state === 'joining') this.nextJoinMs = Math.min(this.nextJoinMs, nowMs); // WELCOME may be lost
        this.noteKnownEnd(p.sentEndOffset);
        return;
      case PacketType.End:
        this.noteSenderTime(p.senderTimeMs, nowMs);
        if (this.state === 'joining') this.nextJoinMs = Math.min(this.nextJoinMs, nowMs);
        if (this.totalBytes === null) {
          if (p.totalBytes < this.highestEnd) { this.report(DoneStatus.HashMismatch, 'stream longer than the length the sender announced', nowMs); return; }
          this.totalBytes = p.totalBytes;
          this.expectedSha256 = p.sha256;
          this.noteKnownEnd(p.totalBytes);
          this.checkComplete(nowMs);
        }
        return;
      case PacketType.Data:
        if (this.state === 'joining') this.nextJoinMs = Math.min(this.nextJoinMs, nowMs);
        this.handleData(p);
        return;
      default:
        countDrop(this.dropped, 'unexpected-type');
    }
  }

  private noteSenderTime(senderTimeMs: number, nowMs: number): void {
    this.echoSenderTimeMs = senderTimeMs;
    this.echoReceivedAtMs = nowMs;
  }

  private noteKnownEnd(end: number): void {
    if (end > this.sentEndOffset) {
      // Tail loss: the sender has sent more than we have seen.
      if (end > this.highestEnd) this.statusDue = true;
      this.sentEndOffset = end;
    }
  }

  private handleData(p: DataPacket): void {
    if (this.state !== 'joining' && this.state !== 'receiving') { this.duplicates++; return; }
    const len = p.payload.length;
    const end = p.offset + len;
    if (len > this.payloadBytes && this.payloadBytes > 0) { countDrop(this.dropped, 'oversized-payload'); return; }
    if (this.totalBytes !== null && end > this.totalBytes) { countDrop(this.dropped, 'beyond-end'); return; }
    if (end <= this.contiguousOffset) { this.duplicates++; return; }
    if (p.offset < this.contiguousOffset) { countDrop(this.dropped, 'misaligned'); return; }
    if (end > this.deliveredOffset + this.windowBytes) { countDrop(this.dropped, 'beyond-window'); return; }
    if (this.ahead.overlaps(p.offset, end)) {
      if (this.store.get(p.offset)?.length === len) this.duplicates++;
      else countDrop(this.dropped, 'misaligned');
      return;
    }
    this.store.set(p.offset, p.payload);
    if (p.offset > this.highestEnd) {
      this.repairsRequested += Math.ceil((p.offset - this.highestEnd) / Math.max(1, this.payloadBytes));
      this.statusDue = true;
    }
    if (end > this.highestEnd) {
      this.highestEnd = end;
      // Acknowledge reading early enough that the sender never waits on the flow window.
      if (end - this.receivedAtLastStatus >= this.flowWindowBytes / 4) this.statusDue = true;
    }
    if (p.offset === this.contiguousOffset) {
      let next = this.store.get(this.contiguousOffset);
      while (next) {
        this.contiguousOffset += next.length;
        next = this.store.get(this.contiguousOffset);
      }
      this.ahead.dropBelow(this.contiguousOffset);
    } else {
      this.ahead.add(p.offset, end);
    }
  }

  /** Every sink finished: report the outcome to the sender. */
  handleSinksFinished(ok: boolean, sinkExitCode: number, detail: string, nowMs: number, restoreOutcome = RestoreOutcome.None): void {
    this.sinkExitCode = sinkExitCode;
    this.restoreOutcome = restoreOutcome;
    if (this.state !== 'delivered') return;
    this.report(ok ? DoneStatus.Ok : DoneStatus.SinkFailed, detail, nowMs);
  }

  /** Something local made this receiver give up (all sinks failed, out of disk, interrupted). */
  handleLocalFailure(status: DoneStatus.SinkFailed | DoneStatus.LocalError | DoneStatus.PreflightFailed, detail: string, sinkExitCode: number, nowMs: number, restoreOutcome = RestoreOutcome.None): void {
    this.sinkExitCode = sinkExitCode;
    this.restoreOutcome = restoreOutcome;
    if (this.sessionId === null) { this.finish({ code: REPORTED_OUTCOME[status], message: detail }); return; }
    if (this.state === 'reporting' || this.state === 'finished') return;
    this.report(status, detail, nowMs);
  }

  // ------------------------------------------------------------ state changes

  private checkComplete(nowMs: number): void {
    if (this.totalBytes === null || this.deliveredOffset !== this.totalBytes) return;
    if (this.state !== 'receiving' && this.state !== 'joining') return;
    this.actualSha256 = this.hash.digest();
    if (this.expectedSha256 && this.actualSha256.equals(this.expectedSha256)) {
      this.state = 'delivered';
      this.statusDue = true;
      this.events.push({ type: 'verified', bytes: this.deliveredOffset, sha256: this.actualSha256.toString('hex') });
    } else {
      this.report(DoneStatus.HashMismatch, `SHA-256 mismatch: got ${this.actualSha256.toString('hex')}, sender announced ${this.expectedSha256?.toString('hex')}`, nowMs);
    }
  }

  private report(status: DoneStatus, detail: string, nowMs: number): void {
    this.doneStatus = status;
    this.doneDetail = clipUtf8(detail, MAX_DETAIL_BYTES);
    this.state = 'reporting';
    this.reportingSinceMs = nowMs;
    this.nextDoneMs = nowMs;
    this.store.clear();
  }

  private finishReported(): void {
    this.finish({ code: REPORTED_OUTCOME[this.doneStatus], message: this.doneDetail || 'stream verified' });
  }

  private finish(outcome: ReceiverOutcome): void {
    this.state = 'finished';
    this.outcome = outcome;
    this.store.clear();
    this.events.push({ type: 'finished', outcome });
  }

  private advance(nowMs: number): void {
    switch (this.state) {
      case 'listening':
      case 'joining':
        if (this.cfg.startTimeoutMs > 0 && nowMs - this.createdAtMs >= this.cfg.startTimeoutMs) {
          this.finish({ code: 'no-session', message: this.state === 'listening'
            ? `no sender announced job '${this.cfg.job}' within the start timeout`
            : 'the sender did not accept this receiver within the start timeout' });
          return;
        }
        if (this.state === 'joining' && nowMs - this.lastHeardMs >= this.cfg.idleTimeoutMs) {
          this.finish({ code: 'timeout', message: 'sender went silent before the transfer started' });
        }
        return;
      case 'receiving':
      case 'delivered':
        if (nowMs - this.lastHeardMs >= this.cfg.idleTimeoutMs) {
          this.finish({ code: 'timeout', message: `sender silent for ${this.cfg.idleTimeoutMs} ms (${this.deliveredOffset} bytes received)` });
        }
        return;
      case 'reporting':
        // The sender may be gone; our own verdict stands.
        if (nowMs - this.reportingSinceMs >= this.cfg.doneWaitMs) this.finishReported();
        return;
      default:
    }
  }

  // ------------------------------------------------------------ outputs

  /** The next in-order verified chunk for the sinks, or null. Call only when sinks can take it. */
  pollDelivery(nowMs: number): Buffer | null {
    if (this.deliveredOffset >= this.contiguousOffset) return null;
    if (this.state !== 'receiving' && this.state !== 'joining') return null;
    const chunk = this.store.get(this.deliveredOffset);
    if (!chunk) return null;
    this.store.delete(this.deliveredOffset);
    this.deliveredOffset += chunk.length;
    this.hash.update(chunk);
    // Free the sender's window early rather than at the next periodic status.
    if (this.deliveredOffset - this.deliveredAtLastStatus >= this.windowBytes / 4) this.statusDue = true;
    this.checkComplete(nowMs);
    return chunk;
  }

  pollTransmit(nowMs: number): Transmit | null {
    this.advance(nowMs);
    const sid = this.sessionId;
    if (sid === null || this.sender === null) return null;
    switch (this.state) {
      case 'joining':
        if (nowMs < this.nextJoinMs) return null;
        this.nextJoinMs = nowMs + this.cfg.joinRetryMs;
        return { to: this.sender, bytes: encodePacket({
          type: PacketType.Join, sessionId: sid, receiverId: this.cfg.receiverId, receiverTimeMs: nowMs,
          echoSenderTimeMs: this.lastAnnounceTimeMs, name: this.cfg.name,
        }) };
      case 'receiving':
      case 'delivered': {
        const due = this.statusDue ? this.lastStatusMs + this.cfg.nakMinIntervalMs : this.lastStatusMs + this.cfg.statusIntervalMs;
        if (nowMs < due) return null;
        this.lastStatusMs = nowMs;
        this.statusDue = false;
        this.deliveredAtLastStatus = this.deliveredOffset;
        this.receivedAtLastStatus = Math.max(this.highestEnd, this.contiguousOffset);
        const knownEnd = Math.max(this.highestEnd, this.sentEndOffset, this.totalBytes ?? 0);
        return { to: this.sender, bytes: encodePacket({
          type: PacketType.Status, sessionId: sid, receiverId: this.cfg.receiverId,
          deliveredOffset: this.deliveredOffset, contiguousOffset: this.contiguousOffset,
          receivedEndOffset: this.receivedAtLastStatus, flowWindowBytes: this.flowWindowBytes,
          echoSenderTimeMs: this.echoSenderTimeMs, holdMs: Math.max(0, Math.round(nowMs - this.echoReceivedAtMs)),
          naks: this.ahead.gaps(this.contiguousOffset, knownEnd, MAX_NAK_RANGES),
        }) };
      }
      case 'reporting':
        if (nowMs < this.nextDoneMs) return null;
        this.nextDoneMs = nowMs + this.cfg.doneRetryMs;
        return { to: this.sender, bytes: encodePacket({
          type: PacketType.Done, sessionId: sid, receiverId: this.cfg.receiverId, status: this.doneStatus, restoreOutcome: this.restoreOutcome,
          bytes: this.deliveredOffset, sinkExitCode: this.sinkExitCode, repairsRequested: this.repairsRequested,
          detail: this.doneDetail,
        }) };
      default:
        return null;
    }
  }

  /** Ms until pollTransmit may have something to send or a timeout may fire. */
  pollTimeoutMs(nowMs: number): number {
    let next = Infinity;
    const consider = (t: number): void => { if (t < next) next = t; };
    switch (this.state) {
      case 'listening':
        if (this.cfg.startTimeoutMs > 0) consider(this.createdAtMs + this.cfg.startTimeoutMs);
        break;
      case 'joining':
        if (this.cfg.startTimeoutMs > 0) consider(this.createdAtMs + this.cfg.startTimeoutMs);
        consider(this.nextJoinMs);
        consider(this.lastHeardMs + this.cfg.idleTimeoutMs);
        break;
      case 'receiving':
      case 'delivered':
        consider(this.statusDue ? this.lastStatusMs + this.cfg.nakMinIntervalMs : this.lastStatusMs + this.cfg.statusIntervalMs);
        consider(this.lastHeardMs + this.cfg.idleTimeoutMs);
        break;
      case 'reporting':
        consider(this.nextDoneMs);
        consider(this.reportingSinceMs + this.cfg.doneWaitMs);
        break;
      default:
        return Infinity;
    }
    return Math.max(0, next - nowMs);
  }

  pollEvent(): ReceiverEvent | null { return this.events.shift(); }
}
