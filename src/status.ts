// `dbcast status`: the last runs per job from the run records, and the time since each job's
// last success. The exit code is for monitoring checks (README "Exit codes").
import { readRuns, type RunRecord } from './run-history';

export interface StatusResult { text: string; healthy: boolean }

const ago = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${(s / 3600).toFixed(1)} h ago` : `${(s / 86_400).toFixed(1)} days ago`;
};

/** Unhealthy: a job's last run failed, or (with maxAgeMs) its last success is older than that or missing. */
export function status(stateDir: string, nowMs: number, maxAgeMs: number, lastN = 3): StatusResult {
  const runs = readRuns(stateDir);
  if (runs.length === 0) return { text: `no runs recorded in ${stateDir}`, healthy: maxAgeMs === 0 };
  const byJob = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const k = `${r.role} ${r.job}`;
    const list = byJob.get(k) ?? [];
    list.push(r);
    byJob.set(k, list);
  }
  let healthy = true;
  const lines: string[] = [];
  for (const [k, list] of [...byJob.entries()].sort()) {
    const real = list.filter((r) => !r.note.startsWith('skipped'));
    const last = real[real.length - 1] ?? list[list.length - 1];
    const success = [...list].reverse().find((r) => r.ok);
    const sinceMs = success ? nowMs - Date.parse(success.endedAt) : Infinity;
    const bad = !last.ok || (maxAgeMs > 0 && sinceMs > maxAgeMs);
    if (bad) healthy = false;
    lines.push(`${bad ? 'FAIL' : 'OK  '} ${k}: last success ${success ? ago(sinceMs) : 'never'}${maxAgeMs > 0 && sinceMs > maxAgeMs ? ` (over ${ago(maxAgeMs).replace(' ago', '')})` : ''}`);
    for (const r of list.slice(-lastN).reverse()) {
      const rep = r.report as { totalBytes?: number; bytesDelivered?: number } | null;
      const bytes = rep?.totalBytes ?? rep?.bytesDelivered;
      const secs = (Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000;
      lines.push(`     ${r.startedAt}  ${r.ok ? 'ok    ' : 'failed'}  exit ${r.exitCode ?? '-'}  ${secs.toFixed(1)} s${bytes !== undefined ? `  ${(bytes / 1048576).toFixed(1)} MiB` : ''}  ${r.ok ? '' : r.note}`.trimEnd());
    }
  }
  return { text: lines.join('\n'), healthy };
}
