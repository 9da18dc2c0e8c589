// The sender's report: one row per admitted receiver, built from the receiver table and the
// session's counters. A row says ok only for a DONE that said ok.
import { DONE_STATUS_NAMES, DROP_REASON_NAMES, DoneStatus, RESTORE_OUTCOME_NAMES } from './constants';
import { formatEndpoint, type DropCounters } from './endpoint';
import type { ReceiverEntry, RefusedJoin } from './receiver-table';

export interface ReceiverReport {
  id: string;
  name: string;
  address: string;
  outcome: 'ok' | 'failed' | 'dropped' | 'incomplete';
  /** DONE status or drop reason, as a stable code. */
  code: string;
  bytes: number;
  sha256Ok: boolean;
  repairsRequested: number;
  nakedPackets: number;
  sinkExitCode: number | null;
  /** The receiver's restore preset: swapped, kept-old, partial; null without one. */
  restore: string | null;
  detail: string;
  durationMs: number | null;
  clockOffsetMs: number | null;
  /** The sender's smoothed round trip to it. */
  rttMs: number;
}

export interface SenderReport {
  sessionId: string;
  job: string;
  outcome: 'completed' | 'aborted';
  abortReason: string | null;
  abortMessage: string | null;
  totalBytes: number;
  sha256: string | null;
  startedAtMs: number | null;
  endedAtMs: number | null;
  dataPacketsSent: number;
  repairPacketsSent: number;
  bytesOnWire: number;
  /** The longest smoothed round trip among the receivers. */
  rttMs: number;
  receivers: ReceiverReport[];
  refused: RefusedJoin[];
  dropped: DropCounters;
}

export interface SenderFacts {
  sessionId: string;
  job: string;
  abortReason: string | null;
  abortMessage: string;
  totalBytes: number;
  sha256: Buffer | null;
  startedAtMs: number | null;
  endedAtMs: number | null;
  dataPacketsSent: number;
  repairPacketsSent: number;
  bytesOnWire: number;
  receivers: Iterable<ReceiverEntry>;
  refused: readonly RefusedJoin[];
  dropped: DropCounters;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function receiverRow(r: ReceiverEntry, f: SenderFacts): ReceiverReport {
  const d = r.done;
  let outcome: ReceiverReport['outcome'];
  let code: string;
  if (d) { outcome = d.status === DoneStatus.Ok ? 'ok' : 'failed'; code = DONE_STATUS_NAMES[d.status]; }
  else if (r.state === 'dropped' && r.dropReason !== null) { outcome = 'dropped'; code = DROP_REASON_NAMES[r.dropReason]; }
  else { outcome = 'incomplete'; code = 'incomplete'; }
  return {
    id: r.id.toString(16).padStart(8, '0'), name: r.name, address: formatEndpoint(r.endpoint), outcome, code,
    bytes: d ? d.bytes : r.deliveredOffset,
    sha256Ok: d !== null && (d.status === DoneStatus.Ok || d.status === DoneStatus.SinkFailed) && f.sha256 !== null && d.bytes === f.totalBytes,
    repairsRequested: d ? d.repairsRequested : 0,
    nakedPackets: r.nakPackets,
    sinkExitCode: d && d.sinkExitCode >= 0 ? d.sinkExitCode : null,
    restore: d ? RESTORE_OUTCOME_NAMES[d.restoreOutcome] : null,
    detail: d ? d.detail : '',
    durationMs: r.finishedAtMs !== null && f.startedAtMs !== null ? r.finishedAtMs - f.startedAtMs : null,
    clockOffsetMs: r.clockOffsetMs,
    rttMs: round2(r.srttMs),
  };
}

export function buildSenderReport(f: SenderFacts): SenderReport {
  const receivers = [...f.receivers].map((r) => receiverRow(r, f));
  return {
    sessionId: f.sessionId, job: f.job,
    outcome: f.abortReason === null ? 'completed' : 'aborted',
    abortReason: f.abortReason,
    abortMessage: f.abortReason === null ? null : f.abortMessage,
    totalBytes: f.totalBytes, sha256: f.sha256 ? f.sha256.toString('hex') : null,
    startedAtMs: f.startedAtMs, endedAtMs: f.endedAtMs,
    dataPacketsSent: f.dataPacketsSent, repairPacketsSent: f.repairPacketsSent,
    bytesOnWire: f.bytesOnWire, rttMs: Math.max(0, ...receivers.map((r) => r.rttMs)),
    receivers, refused: [...f.refused], dropped: { ...f.dropped },
  };
}
