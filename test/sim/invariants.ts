// What every simulated run must satisfy: outcomes (checkResult) and cost (checkCost). Each
// returns every violated invariant as a sentence; empty = the run is correct.
import { DATA_OVERHEAD_BYTES, INITIAL_FLOW_WINDOW_BYTES, SENDER_TIMING_DEFAULTS } from '../../protocol';
import { SKB_OVERHEAD_BYTES } from './link';
import type { Family } from './scenarios';
import type { SimReceiverResult, SimResult } from './simulator';

/** Families in which every receiver that neither crashed nor was made to fail must end ok. */
const EXPECT_OK: readonly Family[] = [
  'clean', 'loss', 'shared-loss', 'control-loss', 'burst', 'reorder', 'duplicate', 'corrupt', 'chaos', 'receiver-crash', 'slow-consumer',
  'attacker', 'replay', 'restart', 'buffer', 'bottleneck', 'sink-fails', 'forged-data', 'partition', 'partition-all',
];
/** Families after which the sender must report the session completed. */
const EXPECT_COMPLETED: readonly Family[] = [
  'clean', 'loss', 'shared-loss', 'control-loss', 'burst', 'reorder', 'duplicate', 'corrupt', 'chaos', 'attacker', 'replay', 'buffer',
  'bottleneck', 'forged-data',
];

/** Outcome invariants: safety (never ok with wrong bytes), truth (the sender's report agrees with
 *  the receiver), liveness (what each family must achieve, and when). */
export function checkResult(res: SimResult): string[] {
  const bad: string[] = [];
  const sc = res.scenario;
  const family = sc.family as Family;
  const reportByName = new Map(res.report.receivers.map((r) => [r.name, r]));
  const exact = (r: SimReceiverResult): boolean => r.outputSha256 === res.inputSha256 && r.bytes === sc.inputBytes;
  if (!res.senderCrashed && !res.senderFinished) bad.push(`sender did not finish (state at ${res.endMs} ms)`);
  const lastPartition = res.metrics.partitions.at(-1);
  const longPartition = lastPartition !== undefined && lastPartition.healMs - lastPartition.startMs > sc.idleTimeoutMs;
  const cutOff = new Set(longPartition ? lastPartition.nodes : []);

  for (const r of res.receivers) {
    const spec = sc.receivers.find((s) => s.name === r.name);
    const who = r.incarnation > 0 ? `${r.name} (restarted)` : r.name;
    // Safety: a receiver says ok, or finalizes a sink, only with the exact input.
    if (r.outcome?.code === 'ok' && !exact(r)) bad.push(`${who} says ok but its output differs from the input`);
    if (r.sinkFinalized && !exact(r)) bad.push(`${who} finalized a sink with wrong bytes`);
    if (r.crashed) continue;
    if (!r.finished) { bad.push(`${who} did not finish`); continue; }
    const code = r.outcome?.code;
    const rep = reportByName.get(r.name);
    // Truth: the sender's report agrees with what the (admitted) receiver concluded.
    if (!res.senderCrashed && rep && r.admitted) {
      if (code === 'ok' && rep.outcome !== 'ok' && rep.code !== 'session-aborted') bad.push(`${who} ok but sender reports ${rep.outcome}/${rep.code}`);
      if (code !== 'ok' && rep.outcome === 'ok') bad.push(`${who} failed (${code}) but sender reports ok`);
    }
    if (r.incarnation > 0) {
      // A restarted process comes too late for the running session: refused, or nothing to join.
      if (!['refused', 'no-session', 'timeout'].includes(code ?? '')) bad.push(`${who} ended ${code}; expected refused, no-session or timeout`);
      continue;
    }
    // Liveness: what each family must achieve.
    const madeToFail = (family === 'sink-fails' && spec?.sinkExitCode !== 0)
      || (family === 'forged-data' && !exact(r)) || cutOff.has(r.name);
    if (EXPECT_OK.includes(family) && !madeToFail && code !== 'ok') bad.push(`${who} ended ${code} (${r.outcome?.message}); expected ok`);
    if (family === 'sink-fails' && spec?.sinkExitCode !== 0 && code !== 'sink-failed') bad.push(`${who} ended ${code}; expected sink-failed`);
    if (family === 'forged-data' && !exact(r) && code !== 'hash-mismatch') bad.push(`${who} took forged bytes and ended ${code}; expected hash-mismatch`);
    if (cutOff.has(r.name) && code !== 'timeout' && code !== 'dropped') bad.push(`${who} cut off longer than the idle timeout ended ${code}; expected timeout or dropped`);
    if (family === 'sender-crash' && code !== 'timeout' && code !== 'ok') bad.push(`${who} ended ${code}; expected timeout`);
    if (family === 'input-fails' && code !== 'aborted') bad.push(`${who} ended ${code}; expected aborted`);
    if (family === 'slow-consumer-drop' && code !== 'ok' && code !== 'dropped') bad.push(`${who} ended ${code}; expected ok or dropped`);
  }
  if (!res.senderCrashed) {
    // A process that died never completed: the report must not say it did.
    for (const r of res.receivers) {
      const rep = reportByName.get(r.name);
      if ((r.crashed || r.incarnation > 0) && rep?.outcome === 'ok') bad.push(`${r.name} crashed but is reported ok`);
      if (cutOff.has(r.name) && rep?.outcome === 'ok') bad.push(`${r.name} was cut off but is reported ok`);
    }
    if (family === 'input-fails' && res.report.outcome !== 'aborted') bad.push('sender should report aborted');
    // One receiver cut off, or all for less than the idle timeout: the others (or all) carry on.
    const completes = EXPECT_COMPLETED.includes(family) || family === 'partition' || (family === 'partition-all' && !longPartition);
    if (completes && res.report.outcome !== 'completed') bad.push(`sender outcome ${res.report.outcome} (${res.report.abortMessage})`);
  }
  if (family === 'split-brain') bad.push(...checkSplitBrain(res));
  // A partition that heals leaves the transfer to converge within one idle timeout.
  if (lastPartition && res.endMs > lastPartition.healMs + sc.idleTimeoutMs) {
    bad.push(`still running ${Math.round(res.endMs - lastPartition.healMs)} ms after the partition healed (limit: the idle timeout)`);
  }
  return bad;
}

/** A deadline may fire this much after it is due (the simulator wakes a host 0.01 ms late at worst). */
const DEADLINE_SLACK_MS = 1;
/** The sender looks for silent receivers on a sweep, not a deadline per receiver: a silent drop
 *  may come this much after the idle timeout. */
const SILENT_SWEEP_SLACK_MS = 25;
/** Repairs per copy of DATA lost on the way to a receiver that needed it. One repair per loss
 *  is the ideal (a lost repair is a loss of its own; one multicast repair may serve several);
 *  the rest allows for a NAK crossing a repair still in flight. Aggregated over a family in the
 *  test, with LOSS_REPAIR_SLACK per run here for small runs. */
export const REPAIRS_PER_LOST_PACKET = 1.5;
const LOSS_REPAIR_SLACK = 16;
const ONE_RUN_FACTOR = 3;
/** Repairs beyond the copies lost (each lost copy needs one at most), as a share of the data
 *  packets; with reordering and no loss the target of issue 13: a reorder delay must tell a late
 *  packet from a lost one. */
export const SPURIOUS_REPAIRS_PER_DATA_PACKET = 0.01;
/** Through a hop slower than the configured rate, repairs per data packet over the bottleneck
 *  family: rate control must find the hop's rate instead of losing at it all the way. Set
 *  between what the sessions send with AIMD and without it (`test/sim/mutant.sh` with AIMD
 *  switched off must fail here). */
export const BOTTLENECK_REPAIRS_PER_DATA_PACKET = 1.75;

/** Cost invariants of one run: what the sender repaired against what was asked and lost, memory
 *  held on both sides, socket-buffer overflow under flow control, and deadlines on time. */
export function checkCost(res: SimResult): string[] {
  const bad: string[] = [];
  const sc = res.scenario;
  const m = res.metrics;
  const family = sc.family as Family;
  // Repairs answer NAKs: never more repairs than packets asked for (sum over STATUS packets).
  if (m.repairPackets > m.nakedPackets) bad.push(`${m.repairPackets} repairs sent for ${m.nakedPackets} packets NAKed`);
  // Against the loss drawn: one run may be unlucky (its few losses NAKed again and again across
  // a long round trip), so a run gets three times the family's bound; reordering without loss is
  // bounded separately, over its family (see the simulation test).
  const perRun = ONE_RUN_FACTOR * REPAIRS_PER_LOST_PACKET;
  if (family !== 'reorder' && m.repairPackets > LOSS_REPAIR_SLACK + perRun * m.dataLost) {
    bad.push(`${m.repairPackets} repairs for ${m.dataLost} lost packets (bound: ${LOSS_REPAIR_SLACK} + ${perRun} per lost packet)`);
  }
  // Memory: the sender holds at most its window beyond its slowest live receiver, and sends no
  // receiver more than its window beyond what that receiver delivered.
  if (m.senderHeldMaxBytes > sc.windowBytes) bad.push(`sender held ${m.senderHeldMaxBytes} bytes, window ${sc.windowBytes}`);
  if (m.receiverAheadMaxBytes > sc.windowBytes) bad.push(`a receiver was handed ${m.receiverAheadMaxBytes} bytes beyond what it delivered, window ${sc.windowBytes}`);
  // Flow control: once a receiver's first STATUS told the sender its flow window (a share of its
  // socket buffer), the buffer does not overflow; before that the sender may send one initial
  // flow window, of which only what does not fit in the buffer can be lost.
  const initialWindowPackets = Math.ceil(INITIAL_FLOW_WINDOW_BYTES / Math.max(1, sc.payloadBytes));
  const charge = sc.payloadBytes + DATA_OVERHEAD_BYTES + SKB_OVERHEAD_BYTES;
  const overflowBound = sc.receivers.reduce((sum, r) => sum + (r.socket ? Math.max(0, initialWindowPackets - Math.floor(r.socket.capacityBytes / charge)) : 0), 0);
  if (m.socketDrops > overflowBound) {
    bad.push(`${m.socketDrops} datagrams overflowed receivers' socket buffers (bound: what of one initial flow window does not fit, ${overflowBound})`);
  }
  // Deadlines fire when due: the sender is never silent longer than its announce or heartbeat
  // interval, receivers time out after exactly the idle timeout, silent receivers are dropped
  // within one sweep of it.
  if (m.maxSilenceWaitingMs > SENDER_TIMING_DEFAULTS.announceIntervalMs + DEADLINE_SLACK_MS) bad.push(`sender silent ${m.maxSilenceWaitingMs.toFixed(2)} ms while announcing`);
  if (m.maxSilenceStartedMs > SENDER_TIMING_DEFAULTS.heartbeatIntervalMs + DEADLINE_SLACK_MS) bad.push(`sender silent ${m.maxSilenceStartedMs.toFixed(2)} ms during the transfer`);
  for (const late of m.timeoutLatenessMs) {
    if (late < -DEADLINE_SLACK_MS || late > DEADLINE_SLACK_MS) bad.push(`a receiver timed out ${late.toFixed(2)} ms off its idle deadline`);
  }
  for (const late of m.silentDropLatenessMs) {
    if (late < -DEADLINE_SLACK_MS || late > SILENT_SWEEP_SLACK_MS) bad.push(`the sender dropped a silent receiver ${late.toFixed(2)} ms off its idle deadline`);
  }
  return bad;
}

/** Two senders of one job: no receiver delivers either stream, each says split-brain, and no
 *  sender succeeds (every row that reports says split-brain). */
function checkSplitBrain(res: SimResult): string[] {
  const bad: string[] = [];
  for (const r of res.receivers) {
    if (r.verified) bad.push(`${r.name} verified a stream of a split brain`);
    if (r.finished && r.outcome?.code !== 'split-brain') bad.push(`${r.name} ended ${r.outcome?.code} (${r.outcome?.message}); expected split-brain`);
  }
  if (!res.rivalFinished) bad.push('the rival sender did not finish');
  for (const [who, rep] of [['sender', res.report], ['rival', res.rivalReport]] as const) {
    if (!rep) continue;
    if (rep.outcome !== 'aborted') bad.push(`${who} ${rep.outcome}; expected aborted`);
    for (const row of rep.receivers) if (row.outcome !== 'incomplete' && row.code !== 'split-brain' && row.code !== 'session-aborted') bad.push(`${who} reports ${row.name} ${row.code}; expected split-brain`);
  }
  return bad;
}
