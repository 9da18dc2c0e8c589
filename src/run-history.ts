// Run records: one JSON line per run in <state-dir>/runs.jsonl, read by `dbcast status`.
import * as fs from 'fs';
import * as path from 'path';

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
/** The file is trimmed to the newest KEEP_RECORDS lines when it passes MAX_RECORDS. */
const MAX_RECORDS = 10_000;
const KEEP_RECORDS = 5_000;

export function appendRun(stateDir: string, r: RunRecord): void {
  const file = path.join(stateDir, HISTORY_FILE);
  fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  if (lines.length > MAX_RECORDS) {
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, `${lines.slice(-KEEP_RECORDS).join('\n')}\n`);
    fs.renameSync(tmp, file);
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
