// Run records: one JSON line per run in <state-dir>/runs.jsonl, read by `dbcast status` and
// the metrics. A run in progress has a marker file beside it (running-<role>-<job>.json),
// removed when its record is written.
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_FILE_MODE, writeFileAtomic } from '../runtime/safe-file';

/** ok: everything verified; degraded: the sender's exit 10 (fewer receivers than expected, each
 *  of those that took part verified); skipped: the previous run was still going; missed: the daemon was down at its time. */
export type RunResult = 'ok' | 'degraded' | 'failed' | 'skipped' | 'missed';

export interface RunRecord {
  job: string;
  role: 'send' | 'receive';
  startedAt: string;
  endedAt: string;
  exitCode: number | null;
  /** True only for result 'ok': a degraded run is not a success. */
  ok: boolean;
  /** Absent in records written before it existed: see runResult. */
  result?: RunResult;
  /** The daemon's id of the run (in its log lines and hooks' DBCAST_RUN_ID); absent in older records. */
  runId?: string;
  /** Why a run did not happen or what went wrong, in a line. */
  note: string;
  /** The run's --report JSON (sender: every receiver with outcome, restore, clock offset). */
  report: unknown;
}

export const HISTORY_FILE = 'runs.jsonl';
/** Past this size the file is trimmed to its newest KEEP_RECORDS lines (a record is a few KiB). */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const KEEP_RECORDS = 5_000;
/** Sender exit code of a degraded run (runtime/exit-codes.ts EXIT.DEGRADED). */
const DEGRADED_EXIT_CODE = 10;

/** The result of a child's exit code (null: killed by a signal). */
export function resultOfExit(code: number | null): RunResult {
  return code === 0 ? 'ok' : code === DEGRADED_EXIT_CODE ? 'degraded' : 'failed';
}

/** A record's result; older records carry only ok and the note. */
export function runResult(r: RunRecord): RunResult {
  if (r.result) return r.result;
  if (r.ok) return 'ok';
  return r.note.startsWith('skipped') ? 'skipped' : 'failed';
}

export function appendRun(stateDir: string, r: RunRecord): void {
  const file = path.join(stateDir, HISTORY_FILE);
  fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
  if (fs.statSync(file).size <= MAX_FILE_BYTES) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length > KEEP_RECORDS) {
    writeFileAtomic(file, `${lines.slice(-KEEP_RECORDS).join('\n')}\n`, REPORT_FILE_MODE);
  }
}

/** Records in order; a damaged line (a crash mid-write) is skipped, not fatal. */
export function readRuns(stateDir: string): RunRecord[] {
  const file = path.join(stateDir, HISTORY_FILE);
  if (!fs.existsSync(file)) return [];
  const out: RunRecord[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try { out.push(JSON.parse(line) as RunRecord); } catch { /* skipped */ }
  }
  return out;
}

function isRunRecord(v: unknown): v is RunRecord {
  const r = v as Partial<RunRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.job === 'string' && (r.role === 'send' || r.role === 'receive') &&
    typeof r.startedAt === 'string' && typeof r.endedAt === 'string' && typeof r.ok === 'boolean' && typeof r.note === 'string' &&
    (r.exitCode === null || typeof r.exitCode === 'number') &&
    (r.result === undefined || ['ok', 'degraded', 'failed', 'skipped', 'missed'].includes(r.result));
}

export type HistoryProblem = 'missing-dir' | 'unreadable' | 'corrupt';
export type History =
  | { ok: true; runs: RunRecord[]; inProgress: RunInProgress[] }
  | { ok: false; problem: HistoryProblem; message: string };

const who = (): string => {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : `uid ${uid}`;
};

/** The history for `dbcast status`, strictly: a state dir that is missing or may not be read, or
 *  a line that is not a run record, is a problem named in the message, never "no runs". */
export function loadHistory(stateDir: string): History {
  const file = path.join(stateDir, HISTORY_FILE);
  let text = '';
  try {
    const st = fs.statSync(stateDir);
    if (!st.isDirectory()) return { ok: false, problem: 'missing-dir', message: `state dir ${stateDir} is not a directory` };
    fs.accessSync(stateDir, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, problem: 'missing-dir', message: `state dir ${stateDir} does not exist (a wrong --state-dir or --config, or the daemon never started)` };
    return { ok: false, problem: 'unreadable', message: `cannot read state dir ${stateDir} as ${who()} (${code ?? (err as Error).message}); run as the daemon's user or a member of its group` };
  }
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return { ok: false, problem: 'unreadable', message: `cannot read ${file} as ${who()} (${code ?? (err as Error).message})` };
  }
  const runs: RunRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]) continue;
    let v: unknown;
    try { v = JSON.parse(lines[i]); } catch { v = undefined; }
    if (!isRunRecord(v)) {
      return { ok: false, problem: 'corrupt', message: `${file} line ${i + 1} is not a run record (a full disk or a crash mid-write?); move the file aside to start a new history` };
    }
    runs.push(v);
  }
  const inProgress = readRunsInProgress(stateDir);
  if (!Array.isArray(inProgress)) return { ok: false, problem: inProgress.problem, message: inProgress.message };
  return { ok: true, runs, inProgress };
}

// ------------------------------------------------------------ runs in progress

export interface RunInProgress {
  job: string;
  role: 'send' | 'receive';
  startedAt: string;
  /** The child `dbcast send|receive` doing the run. */
  pid: number;
}

const MARKER_PREFIX = 'running-';
const markerFile = (stateDir: string, role: string, job: string): string =>
  path.join(stateDir, `${MARKER_PREFIX}${role}-${encodeURIComponent(job)}.json`);

export function markRunStarted(stateDir: string, r: RunInProgress): void {
  writeFileAtomic(markerFile(stateDir, r.role, r.job), `${JSON.stringify(r)}\n`, REPORT_FILE_MODE);
}

export function clearRunStarted(stateDir: string, role: string, job: string): void {
  fs.rmSync(markerFile(stateDir, role, job), { force: true });
}

function isRunInProgress(v: unknown): v is RunInProgress {
  const r = v as Partial<RunInProgress> | null;
  return typeof r === 'object' && r !== null && typeof r.job === 'string' && (r.role === 'send' || r.role === 'receive') &&
    typeof r.startedAt === 'string' && typeof r.pid === 'number';
}

function readRunsInProgress(stateDir: string): RunInProgress[] | { problem: HistoryProblem; message: string } {
  const out: RunInProgress[] = [];
  for (const name of fs.readdirSync(stateDir)) {
    if (!name.startsWith(MARKER_PREFIX) || !name.endsWith('.json')) continue;
    const file = path.join(stateDir, name);
    let text: string;
    try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // the run ended while we looked
      return { problem: 'unreadable', message: `cannot read ${file} as ${who()} (${code ?? (err as Error).message})` };
    }
    let v: unknown;
    try { v = JSON.parse(text); } catch { v = undefined; }
    if (!isRunInProgress(v)) return { problem: 'corrupt', message: `${file} is not a run-in-progress marker; remove it if no run is going` };
    out.push(v);
  }
  return out;
}

/** Whether the process of a marker still exists (EPERM: it does, as another user's). */
export function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
