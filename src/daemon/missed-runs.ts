// Runs the schedule had while the daemon was down: found at start from the job's last run
// record, reported (a log warning and one 'missed' run record), and with `catch-up: true`
// run once right away however many were missed. Pure: records and "now" are passed in.
import type { JobConfig } from '../config';
import type { RunRecord } from '../run-history';
import { nextRunAfter } from './schedule';

/** Missed runs counted one by one up to this; beyond, "at least". */
const MAX_COUNTED = 1000;

export interface MissedRuns {
  /** Scheduled times not run, the first and the last (ms); count capped at MAX_COUNTED. */
  firstMs: number;
  lastMs: number;
  count: number;
  countCapped: boolean;
  /** The job's last record's time, the reference. */
  sinceMs: number;
}

/** The latest time a job's records show it ran (or was recorded as skipped or missed), or null. */
function lastRecordMs(job: Pick<JobConfig, 'job' | 'role'>, records: readonly RunRecord[]): number | null {
  let last: number | null = null;
  for (const r of records) {
    if (r.job !== job.job || r.role !== job.role) continue;
    for (const at of [r.startedAt, r.endedAt]) {
      const ms = typeof at === 'string' ? Date.parse(at) : NaN;
      if (Number.isFinite(ms) && (last === null || ms > last)) last = ms;
    }
  }
  return last;
}

/** The scheduled runs after the job's last record and before now; null when none (or no record yet). */
export function missedRuns(job: Pick<JobConfig, 'job' | 'role' | 'schedule' | 'timezone'>, records: readonly RunRecord[], nowMs: number): MissedRuns | null {
  if (!job.schedule) return null;
  const sinceMs = lastRecordMs(job, records);
  if (sinceMs === null) return null; // a new job: nothing it should have done yet
  let t = nextRunAfter(job.schedule, job.timezone, sinceMs);
  if (t === null || t >= nowMs) return null;
  const firstMs = t;
  let lastMs = t;
  let count = 0;
  while (t !== null && t < nowMs && count < MAX_COUNTED) {
    lastMs = t;
    count++;
    t = nextRunAfter(job.schedule, job.timezone, t);
  }
  return { firstMs, lastMs, count, countCapped: t !== null && t < nowMs, sinceMs };
}

/** The run record for them: at the last missed time, so the next start does not report them again. */
export function missedRecord(job: Pick<JobConfig, 'job' | 'role'>, m: MissedRuns, nowMs: number, catchingUp: boolean): RunRecord {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const what = m.count === 1 ? `the run at ${iso(m.firstMs)}` : `${m.countCapped ? 'at least ' : ''}${m.count} runs from ${iso(m.firstMs)} to ${iso(m.lastMs)}`;
  return {
    job: job.job, role: job.role, startedAt: iso(m.lastMs), endedAt: iso(nowMs), exitCode: null, ok: false, result: 'missed',
    note: `missed: the daemon was not running for ${what}${catchingUp ? '; catch-up: running once now' : ''}`,
    report: null,
  };
}
