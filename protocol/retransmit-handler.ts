// Repair policy, after Aeron's RetransmitHandler: a NAKed packet goes DELAYED (waiting out the
// repair delay, so NAKs of the same loss from several receivers cost one repair), then READY
// (waiting for the pacer, repairs before new data), then LINGERING once sent: NAKs for it are
// ignored for about one round trip of the receivers that asked, since the copy may still be on
// its way. A packet asked for by one receiver is repaired by unicast to it; by several, to the
// group. Bounded: per receiver at most its flow window per round trip, per packet at most
// MAX_REPAIRS_PER_PACKET copies, at most MAX_REPAIR_ENTRIES packets tracked at once.
// Pure: it returns decisions and never calls back into the session.
import type { SendWindow, WindowPacket } from './send-window';

export interface RepairRequester {
  id: number;
  /** Its smoothed round trip, measured by the sender from its STATUS echoes. */
  srttMs: number;
  /** What it says it can take beyond what it has read: the most it may draw per round trip. */
  flowWindowBytes: number;
}

export interface RetransmitConfig {
  /** How long a NAKed packet waits before it is repaired (0: at once). */
  repairDelayMs: number;
  /** The shortest linger, whatever the round trip. */
  minLingerMs: number;
  /** Linger = this many round trips of the receivers that asked. */
  lingerRtts: number;
}

export const RETRANSMIT_DEFAULTS: RetransmitConfig = { repairDelayMs: 0, minLingerMs: 3, lingerRtts: 1.5 };

/** Repairs of one packet; a receiver still asking after this many is not going to get it. */
export const MAX_REPAIRS_PER_PACKET = 32;
/** Packets tracked at once (delayed, ready or lingering). */
export const MAX_REPAIR_ENTRIES = 65_536;
/** Window packets one NAK batch (one STATUS) may look at: its cost stays bounded, not O(window). */
export const MAX_PACKETS_PER_NAK_BATCH = 4096;

/** Queues drop their consumed head once it is this long and more than half of them. */
const COMPACT_AFTER = 1024;

type RepairState = 'delayed' | 'ready' | 'lingering';

interface RepairEntry {
  packet: WindowPacket;
  state: RepairState;
  /** delayed: when it becomes ready; lingering: when NAKs count again. */
  untilMs: number;
  /** The one receiver that asked, or null once several did (then it goes to the group). */
  requester: number | null;
  /** The longest round trip among the receivers that asked: the linger after sending. */
  lingerMs: number;
  repairs: number;
}

export interface NakResult {
  /** Window packets the NAK covered (for the report: what a receiver asked for). */
  nakedPackets: number;
  /** Packets newly scheduled for repair. */
  scheduled: number;
  /** NAKs refused: beyond the receiver's budget, the batch limit or the entry limit. */
  refused: Record<string, number>;
  /** The receiver asked again for a packet already repaired MAX_REPAIRS_PER_PACKET times. */
  exhausted: boolean;
}

export interface RepairTransmit { packet: WindowPacket; to: number | null }

export class RetransmitHandler {
  private readonly entries = new Map<number, RepairEntry>();
  private readonly delayed: RepairEntry[] = [];
  private delayedHead = 0;
  private readonly ready: RepairEntry[] = [];
  private readyHead = 0;
  private readonly budgets = new Map<number, { bytes: number; atMs: number }>();

  constructor(private readonly cfg: RetransmitConfig = RETRANSMIT_DEFAULTS) {}

  private lingerFor(r: RepairRequester): number { return Math.max(this.cfg.minLingerMs, this.cfg.lingerRtts * r.srttMs); }

  /** A receiver asks for [start, end) (already clipped to what it has not acknowledged and what was sent). */
  handleNak(r: RepairRequester, start: number, end: number, window: SendWindow, nowMs: number, batchBudget: { packets: number }): NakResult {
    const res: NakResult = { nakedPackets: 0, scheduled: 0, refused: {}, exhausted: false };
    if (start >= end) return res;
    const linger = this.lingerFor(r);
    let budget = this.budgets.get(r.id);
    if (!budget || nowMs - budget.atMs >= linger) { budget = { bytes: r.flowWindowBytes, atMs: nowMs }; this.budgets.set(r.id, budget); }
    for (const p of window.sentBetween(start, end)) {
      if (batchBudget.packets <= 0) { count(res.refused, 'naks-beyond-budget'); break; }
      batchBudget.packets--;
      res.nakedPackets++;
      let e = this.entries.get(p.offset);
      if (e && e.packet !== p) { this.entries.delete(p.offset); e = undefined; }
      if (e && (e.state === 'delayed' || e.state === 'ready')) {
        if (e.requester !== r.id) e.requester = null;
        e.lingerMs = Math.max(e.lingerMs, linger);
        continue;
      }
      if (e && nowMs < e.untilMs && (e.requester === null || e.requester === r.id)) continue; // lingering
      // The first copy may still be on its way to this receiver.
      if (!e && nowMs - p.lastSentMs < linger && (p.lastSentTo === null || p.lastSentTo === r.id)) continue;
      if (e && e.repairs >= MAX_REPAIRS_PER_PACKET) { res.exhausted = true; count(res.refused, 'repairs-exhausted'); continue; }
      if (budget.bytes < p.length) { count(res.refused, 'repairs-beyond-budget'); batchBudget.packets = 0; return res; }
      if (!e) {
        if (this.entries.size >= MAX_REPAIR_ENTRIES && !this.sweep(window, nowMs)) { count(res.refused, 'repairs-beyond-limit'); batchBudget.packets = 0; return res; }
        e = { packet: p, state: 'delayed', untilMs: 0, requester: r.id, lingerMs: linger, repairs: 0 };
        this.entries.set(p.offset, e);
      } else {
        // Lingering after a unicast to another receiver: two have now lost it, so the group gets it.
        e.requester = e.requester !== null && e.requester !== r.id ? null : r.id;
        e.lingerMs = linger;
      }
      budget.bytes -= p.length;
      res.scheduled++;
      if (this.cfg.repairDelayMs > 0) { e.state = 'delayed'; e.untilMs = nowMs + this.cfg.repairDelayMs; this.delayed.push(e); }
      else { e.state = 'ready'; this.ready.push(e); }
    }
    return res;
  }

  /** Delayed repairs whose delay is over become ready. */
  handleTimeout(nowMs: number): void {
    while (this.delayedHead < this.delayed.length) {
      const e = this.delayed[this.delayedHead];
      if (e.state === 'delayed' && e.untilMs > nowMs) break;
      this.delayedHead++;
      if (e.state === 'delayed') { e.state = 'ready'; this.ready.push(e); }
    }
    if (this.delayedHead > COMPACT_AFTER && this.delayedHead * 2 > this.delayed.length) { this.delayed.splice(0, this.delayedHead); this.delayedHead = 0; }
    if (this.delayedHead > 0 && this.delayedHead === this.delayed.length) { this.delayed.length = 0; this.delayedHead = 0; }
  }

  /** When the next delayed repair becomes ready, or Infinity. */
  nextDeadlineMs(): number {
    for (let i = this.delayedHead; i < this.delayed.length; i++) if (this.delayed[i].state === 'delayed') return this.delayed[i].untilMs;
    return Infinity;
  }

  /** True when a repair may be waiting for the pacer (it may turn out to be stale). */
  get hasReady(): boolean { return this.readyHead < this.ready.length; }

  /** The next repair to send, skipping those nobody needs any more; null when none. */
  peek(window: SendWindow, isLive: (id: number) => boolean): RepairTransmit | null {
    while (this.readyHead < this.ready.length) {
      const e = this.ready[this.readyHead];
      const released = e.packet.offset + e.packet.length <= window.baseOffset;
      if (e.state === 'ready' && !released && (e.requester === null || isLive(e.requester))) return { packet: e.packet, to: e.requester };
      if (e.state === 'ready') this.entries.delete(e.packet.offset);
      this.readyHead++;
    }
    if (this.readyHead > 0) { this.ready.length = 0; this.readyHead = 0; }
    return null;
  }

  /** The repair peek() returned went out: it lingers. */
  markSent(nowMs: number): void {
    const e = this.ready[this.readyHead++];
    e.state = 'lingering';
    e.untilMs = nowMs + e.lingerMs;
    e.repairs++;
    e.packet.lastSentMs = nowMs;
    e.packet.lastSentTo = e.requester;
    if (this.readyHead > COMPACT_AFTER && this.readyHead * 2 > this.ready.length) { this.ready.splice(0, this.readyHead); this.readyHead = 0; }
  }

  /** Forget a receiver (dropped or done): its budget, and it no longer counts as a requester. */
  forget(id: number): void { this.budgets.delete(id); }

  /** Drop entries of released packets and expired lingers; true if room was made. */
  private sweep(window: SendWindow, nowMs: number): boolean {
    const before = this.entries.size;
    for (const [offset, e] of this.entries) {
      const released = e.packet.offset + e.packet.length <= window.baseOffset;
      if (released || (e.state === 'lingering' && nowMs >= e.untilMs)) this.entries.delete(offset);
    }
    return this.entries.size < before;
  }

  /** Release what the window released (cheap: entries come roughly in offset order). */
  release(window: SendWindow): void {
    for (const [offset, e] of this.entries) {
      if (e.packet.offset + e.packet.length > window.baseOffset) break;
      this.entries.delete(offset);
    }
  }

  /** Packets tracked, for memory bounds in tests. */
  get trackedPackets(): number { return this.entries.size; }
}

function count(c: Record<string, number>, reason: string): void { c[reason] = (c[reason] ?? 0) + 1; }
