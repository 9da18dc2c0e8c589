// Run records: one JSON line per run in <state-dir>/runs.jsonl, read by `dbcast status`.
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_FILE_MODE, writeFileAtomic } from '../runtime/safe-file';

export interface RunRecord {
  job: string;
  role: 'send' | 'receive';
  startedAt: string;
  endedAt: string;
  exitCode: number | null;
  ok: boolean;
  /** Why a run did not happen or what went wrong, in a line. */
  note: string;
  /** The run's --report JSON (sender: every receiver with outcome, restore, clock offset). */
  report: unknown;
}

export const HISTORY_FILE = 'runs.jsonl';
/** Past this size the file is trimmed to its newest KEEP_RECORDS lines (a record is a few KiB). */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const KEEP_RECORDS = 5_000;

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
