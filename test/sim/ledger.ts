// What the simulator counts from the packets themselves (decoded with protocol's decoder), so
// the cost invariants do not depend on counters the sessions choose to keep.
import { Heap } from './heap';

export interface SimMetrics {
  /** DATA packets sent for the first time, and sent again (repairs). */
  dataPackets: number;
  repairPackets: number;
  /** Sum over the STATUS packets that reached the sender of the sent packets their NAK ranges cover. */
  nakedPackets: number;
  /** Copies of DATA lost on the way to an admitted receiver that did not hold that packet yet. */
  dataLost: number;
  dataLostByCause: Record<string, number>;
  /** Distinct DATA packets (offsets) of which at least one such copy was lost. */
  dataLostPackets: number;
  /** Copies of DATA lost on the way to any receiver, needed or not. */
  dataDrops: number;
  /** Any datagram lost, by direction (sender -> receivers, receivers -> sender). */
  forwardDrops: number;
  controlDrops: number;
  corrupted: number;
  duplicated: number;
  /** DATA copies held back and overtaken. */
  reordered: number;
  bottleneckDrops: number;
  socketDrops: number;
  /** Highest socket buffer use seen at any receiver, as a fraction of its capacity. */
  socketPeakFraction: number;
  partitions: { nodes: string[]; startMs: number; healMs: number }[];
  restarts: number;
  crashes: number;
  forgedSent: number;
  /** Chunks handed to a sink that differ from the input at their offset. */
  wrongChunksDelivered: number;
  attackPackets: number;
  replayPackets: number;
  /** Input the sender held beyond what its slowest live receiver reported delivered. */
  senderHeldMaxBytes: number;
  /** Distinct DATA bytes a live receiver was handed beyond what it delivered (an upper bound on what it buffers). */
  receiverAheadMaxBytes: number;
  /** Longest the sender stayed silent while announcing, and once the transfer started. */
  maxSilenceWaitingMs: number;
  maxSilenceStartedMs: number;
  /** For each receiver that timed out after admission: when it gave up minus (last packet from the sender + idle timeout). */
  timeoutLatenessMs: number[];
  /** For each receiver the sender dropped as silent: when minus (last packet from it + idle timeout). */
  silentDropLatenessMs: number[];
}

export function newMetrics(): SimMetrics {
  return {
    dataPackets: 0, repairPackets: 0, nakedPackets: 0, dataLost: 0, dataLostByCause: {}, dataLostPackets: 0, dataDrops: 0, forwardDrops: 0, controlDrops: 0,
    corrupted: 0, duplicated: 0, reordered: 0, bottleneckDrops: 0, socketDrops: 0, socketPeakFraction: 0, partitions: [],
    restarts: 0, crashes: 0, forgedSent: 0, wrongChunksDelivered: 0, attackPackets: 0, replayPackets: 0,
    senderHeldMaxBytes: 0, receiverAheadMaxBytes: 0, maxSilenceWaitingMs: 0, maxSilenceStartedMs: 0,
    timeoutLatenessMs: [], silentDropLatenessMs: [],
  };
}

/** The DATA packets the sender sent for the first time, in offset order. */
export class SentIndex {
  private readonly starts: number[] = [];
  end = 0;
  /** True when this is a first send, false for a repair. */
  note(offset: number, end: number): boolean {
    if (offset < this.end) return false;
    this.starts.push(offset);
    this.end = end;
    return true;
  }
  /** How many sent packets share a byte with [start, end). */
  packetsIn(start: number, end: number): number {
    const e = Math.min(end, this.end);
    if (e <= start) return 0;
    return this.firstStartAtOrAbove(e) - Math.max(0, this.firstStartAtOrAbove(start + 1) - 1);
  }
  private firstStartAtOrAbove(x: number): number {
    let lo = 0; let hi = this.starts.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (this.starts[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
}

/** Distinct DATA packets a receiver was handed above what it delivered. */
export class AheadTracker {
  private readonly held = new Map<number, number>();
  private readonly order = new Heap<{ at: number; seq: number }>();
  private seq = 0;
  bytes = 0;
  add(offset: number, end: number, delivered: number): void {
    if (end <= delivered || this.held.has(offset)) return;
    this.held.set(offset, end);
    this.order.push({ at: offset, seq: this.seq++ });
    this.bytes += end - offset;
  }
  release(delivered: number): void {
    for (let top = this.order.peek(); top; top = this.order.peek()) {
      const end = this.held.get(top.at) as number;
      if (end > delivered) break;
      this.order.pop();
      this.held.delete(top.at);
      this.bytes -= end - top.at;
    }
  }
}
