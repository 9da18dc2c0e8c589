// The sender's report: one row per admitted receiver, built from the receiver table and the
// session's counters, plus a `missing` row for each expected name (--receivers) that never
// joined. A row says ok only for a DONE that said ok. A transfer that started below
// minReceivers, or without an expected receiver, is degraded: never a plain success.
import { DONE_STATUS_NAMES, DROP_REASON_NAMES, DoneStatus, RESTORE_OUTCOME_NAMES } from './constants';
import { formatEndpoint, type DropCounters } from './endpoint';
import type { ReceiverEntry, RefusedJoin } from './receiver-table';

export interface ReceiverReport {
  id: string;
  name: string;
  address: string;
  outcome: 'ok' | 'failed' | 'dropped' | 'incomplete' | 'missing';
  /** DONE status or drop reason, as a stable code; a missing row: never-joined or its JOIN's refusal. */
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
  /** How many receivers the run was meant for: the --receivers names, else --min-receivers. */
  expectedReceivers: number;
  /** Live receivers when the transfer started (null: it never started). */
  receiversAtStart: number | null;
  /** Started below minReceivers, or an expected receiver is missing; degradedReason says which. */
  degraded: boolean;
  degradedReason: string | null;
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
  /** The names the sender was told to expect (--receivers); undefined: any name. */
  expectedNames?: readonly string[];
  minReceivers: number;
  receiversAtStart: number | null;
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

/** An expected name with no entry in the receiver table: it never joined (or its JOIN was refused). */
function missingRow(name: string, refused: RefusedJoin | undefined): ReceiverReport {
  return {
    id: '-', name, address: refused ? refused.address : '', outcome: 'missing', code: refused ? refused.reason : 'never-joined',
    bytes: 0, sha256Ok: false, repairsRequested: 0, nakedPackets: 0, sinkExitCode: null, restore: null,
    detail: refused ? `its join was refused (${refused.reason})` : 'never joined', durationMs: null, clockOffsetMs: null, rttMs: 0,
  };
}

function degradation(f: SenderFacts, missing: readonly string[]): string | null {
  const reasons: string[] = [];
  if (f.receiversAtStart !== null && f.receiversAtStart < f.minReceivers) {
    reasons.push(`started with ${f.receiversAtStart} of ${f.minReceivers} receivers (min-receivers) when max-wait expired`);
  }
  // An aborted transfer that never started is a failure, not a degraded success.
  if (missing.length > 0 && f.receiversAtStart !== null) reasons.push(`missing: ${missing.join(', ')}`);
  return reasons.length ? reasons.join('; ') : null;
}

export function buildSenderReport(f: SenderFacts): SenderReport {
  const receivers = [...f.receivers].map((r) => receiverRow(r, f));
  const joined = new Set(receivers.map((r) => r.name));
  const missing = (f.expectedNames ?? []).filter((n) => !joined.has(n));
  for (const name of missing) receivers.push(missingRow(name, f.refused.find((x) => x.name === name)));
  const degradedReason = degradation(f, missing);
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
    expectedReceivers: f.expectedNames ? f.expectedNames.length : f.minReceivers,
    receiversAtStart: f.receiversAtStart,
    degraded: degradedReason !== null, degradedReason,
  };
}
