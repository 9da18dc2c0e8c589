// Evidence that a family's runs met the fault the family is named for: a simulator change that
// stops drawing losses, partitions or forgeries makes the simulation test fail instead of
// passing on runs that test nothing.
import type { Family } from './scenarios';
import type { SimResult } from './simulator';

/** One thing a family's runs must show, in every run (share 1) or in a share of them (drawn at random). */
export interface FaultEvidence { what: string; holds: (res: SimResult) => boolean; share: number }

export const MOST_RUNS = 0.8;

const lostData = (r: SimResult): boolean => r.metrics.dataDrops > 0;
const every = (what: string, holds: FaultEvidence['holds']): FaultEvidence => ({ what, holds, share: 1 });
const most = (what: string, holds: FaultEvidence['holds'], share = MOST_RUNS): FaultEvidence => ({ what, holds, share });

export const FAULT_EVIDENCE: Record<Family, FaultEvidence[]> = {
  clean: [every('nothing lost either way', (r) => r.metrics.forwardDrops + r.metrics.controlDrops + r.metrics.corrupted === 0)],
  loss: [most('DATA lost and control packets lost', (r) => lostData(r) && r.metrics.controlDrops > 0)],
  'shared-loss': [most('DATA lost before the fan-out', lostData)],
  'control-loss': [every('nothing lost towards the receivers', (r) => r.metrics.forwardDrops === 0), most('control packets lost', (r) => r.metrics.controlDrops > 0)],
  burst: [most('DATA lost', lostData)],
  reorder: [every('nothing lost', (r) => r.metrics.forwardDrops + r.metrics.controlDrops === 0), most('DATA reordered', (r) => r.metrics.reordered > 0)],
  duplicate: [every('nothing lost', (r) => r.metrics.forwardDrops === 0), most('packets duplicated', (r) => r.metrics.duplicated > 0)],
  corrupt: [most('packets corrupted', (r) => r.metrics.corrupted > 0)],
  'receiver-crash': [every('a receiver crashed', (r) => r.metrics.crashes === 1)],
  'sender-crash': [most('the sender crashed', (r) => r.senderCrashed)],
  'slow-consumer': [most('the slow sink set the pace', (r) => r.endMs >= r.scenario.inputBytes / Math.min(...r.scenario.receivers.map((x) => x.consumerBytesPerMs)))],
  // Whether the slow one falls half a window behind for long enough depends on the window drawn.
  'slow-consumer-drop': [most('a receiver dropped as too slow', (r) => r.report.receivers.some((x) => x.code === 'too-slow'), 0.5)],
  'input-fails': [every('the input failed and the sender aborted', (r) => r.report.outcome === 'aborted')],
  'sink-fails': [every('a sink failed', (r) => r.receivers.some((x) => x.outcome?.code === 'sink-failed'))],
  chaos: [most('loss, reordering, duplication and corruption at once', (r) => lostData(r) && r.metrics.reordered > 0 && r.metrics.duplicated > 0 && r.metrics.corrupted > 0)],
  attacker: [every('hostile packets delivered', (r) => r.metrics.attackPackets > 0)],
  replay: [every('an earlier session replayed', (r) => r.metrics.replayPackets > 0)],
  partition: [every('one receiver cut off, then healed', (r) => r.metrics.partitions.length === 1 && r.metrics.partitions[0].nodes.length === 1)],
  'partition-all': [every('every receiver cut off, then healed', (r) => r.metrics.partitions.length === 1 && r.metrics.partitions[0].nodes.length === r.scenario.receivers.length)],
  restart: [every('a receiver died and a new process took its name', (r) => r.metrics.restarts === 1)],
  buffer: [most('socket buffers filled to a quarter of their capacity', (r) => r.metrics.socketPeakFraction >= 0.25)],
  bottleneck: [every('the slow hop dropped packets', (r) => r.metrics.bottleneckDrops > 0)],
  'split-brain': [every('a second sender of the job ran', (r) => r.rivalReport !== undefined), most('packets lost', (r) => r.metrics.forwardDrops + r.metrics.controlDrops > 0)],
  'forged-data': [every('forged DATA sent', (r) => r.metrics.forgedSent > 0), most('forged bytes reached a sink', (r) => r.metrics.wrongChunksDelivered > 0)],
};
