// `dbcast status`: each job's state from the run records, as a monitoring check. Exit codes are
// the monitoring-plugin ones (README "Monitoring with dbcast status"): 0 OK, 1 WARNING (a run
// degraded, a configured job never ran), 2 CRITICAL (a run failed, no success within the max
// age), 3 UNKNOWN (the state cannot be read, or bad flags). Never OK for state it cannot read.
import * as fs from 'fs';
import { parse as parseYaml } from 'yaml';
import { STATUS_EXIT } from '../runtime/exit-codes';
import { loadHistory, processAlive, runResult, type RunInProgress, type RunRecord, type RunResult } from './run-history';
import { nextRuns } from './daemon/schedule';

export type CheckState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** What status needs of a configured job (not its flags: key files and interfaces are the daemon's). */
export interface ConfiguredJob { role: 'send' | 'receive'; job: string; schedule: string | null; timezone: string | undefined }

export interface RunSummary {
  startedAt: string;
  endedAt: string;
  result: RunResult;
  exitCode: number | null;
  note: string;
  bytes: number | null;
}

export interface JobStatus {
  role: 'send' | 'receive';
  job: string;
  state: Exclude<CheckState, 'UNKNOWN'>;
  /** Why that state, in a line. */
  reason: string;
  /** In the config given (null: no config was read). */
  configured: boolean | null;
  schedule: string | null;
  /** The last success may be this old before the job is stale (null: no limit). */
  maxAgeHours: number | null;
  lastRun: RunSummary | null;
  lastSuccessAt: string | null;
  inProgress: (RunInProgress & { processAlive: boolean }) | null;
  recent: RunSummary[];
}

export interface StatusResult {
  state: CheckState;
  exitCode: number;
  /** The first line: the state and what made it so. */
  summary: string;
  stateDir: string;
  config: string | null;
  /** Why the state could not be read (state UNKNOWN). */
  problem: { kind: string; message: string } | null;
  jobs: JobStatus[];
  /** Jobs with records that the config no longer has: listed, not counted. */
  unconfigured: JobStatus[];
}

export interface StatusInput {
  stateDir: string;
  /** From the config; null when none was read (then the jobs are those with records). */
  jobs: ConfiguredJob[] | null;
  configFile: string | null;
  nowMs: number;
  /** --max-age-hours for every job (0 = no limit); undefined = from each job's schedule. */
  maxAgeMs: number | undefined;
  lastN?: number;
}

const HOUR_MS = 3_600_000;
/** Without a schedule to go by (always-listening receivers, jobs not in a config): daily plus slack. */
export const DEFAULT_MAX_AGE_MS = 26 * HOUR_MS;
/** Added to the longest gap between two scheduled runs: a run takes time, and may run late. */
const SCHEDULE_SLACK_MS = 2 * HOUR_MS;
/** Scheduled runs looked at for the longest gap (covers weekday-only and weekly schedules). */
const GAPS_LOOKED_AT = 8;
const RANK: Record<CheckState, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
const EXIT_OF: Record<CheckState, number> = { OK: STATUS_EXIT.OK, WARNING: STATUS_EXIT.WARNING, CRITICAL: STATUS_EXIT.CRITICAL, UNKNOWN: STATUS_EXIT.UNKNOWN };

export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : s < 172_800 ? `${(s / 3600).toFixed(1)} h ago` : `${(s / 86_400).toFixed(1)} days ago`;
}
const hours = (ms: number): string => `${+(ms / HOUR_MS).toFixed(2)} h`;

/** The longest gap between the schedule's next runs, plus slack (a daily job: 26 h). The runs
 *  come from the daemon's own schedule code (DST rule included), so both agree on when a job is due. */
export function maxAgeFromSchedule(schedule: string | null, timezone: string | undefined, nowMs: number): number {
  if (schedule === null) return DEFAULT_MAX_AGE_MS;
  let runs: number[];
  try { runs = nextRuns(schedule, timezone, nowMs, GAPS_LOOKED_AT + 1); } catch { return DEFAULT_MAX_AGE_MS; }
  let gap = 0;
  for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i] - runs[i - 1]);
  return gap > 0 ? gap + SCHEDULE_SLACK_MS : DEFAULT_MAX_AGE_MS;
}

function summarizeRun(r: RunRecord): RunSummary {
  const rep = r.report as { totalBytes?: number; bytesDelivered?: number } | null;
  const bytes = rep?.totalBytes ?? rep?.bytesDelivered;
  return { startedAt: r.startedAt, endedAt: r.endedAt, result: runResult(r), exitCode: r.exitCode, note: r.note, bytes: typeof bytes === 'number' ? bytes : null };
}

function jobStatus(role: 'send' | 'receive', job: string, list: RunRecord[], cfg: ConfiguredJob | undefined, configured: boolean | null,
  marker: RunInProgress | undefined, input: StatusInput): JobStatus {
  const now = input.nowMs;
  const schedule = cfg?.schedule ?? null;
  const maxAgeMs = input.maxAgeMs ?? maxAgeFromSchedule(schedule, cfg?.timezone, input.nowMs);
  const real = list.filter((r) => runResult(r) !== 'skipped');
  const last = real[real.length - 1] ?? list[list.length - 1];
  const success = [...list].reverse().find((r) => runResult(r) === 'ok');
  const inProgress = marker ? { ...marker, processAlive: processAlive(marker.pid) } : null;
  let state: JobStatus['state'] = 'OK';
  let reason: string;
  const raise = (s: JobStatus['state']): void => { if (RANK[s] > RANK[state]) state = s; };
  if (!last) {
    reason = inProgress?.processAlive ? `first run in progress since ${inProgress.startedAt}` : 'configured but never ran';
    if (!inProgress?.processAlive) raise('WARNING');
  } else {
    const result = runResult(last);
    const when = ago(now - Date.parse(last.endedAt));
    const parts: string[] = [];
    if (result === 'failed') { raise('CRITICAL'); parts.push(`last run failed ${when} (exit ${last.exitCode ?? 'by signal'}): ${last.note}`); }
    else if (result === 'degraded') { raise('WARNING'); parts.push(`last run degraded ${when}: ${last.note.replace(/^degraded: /, '')}`); }
    else if (result === 'skipped') { raise('WARNING'); parts.push(`only skipped runs (${last.note})`); }
    else if (result === 'missed') { raise('WARNING'); parts.push(`last run ${last.note}`); }
    // Age from the last full success; a job that never had one counts from its first record.
    const sinceMs = now - Date.parse(success ? success.endedAt : list[0].startedAt);
    const stale = maxAgeMs > 0 && sinceMs > maxAgeMs;
    if (stale) raise('CRITICAL');
    parts.push(`last success ${success ? ago(now - Date.parse(success.endedAt)) : 'never'}${stale ? ` (stale: over ${hours(maxAgeMs)})` : ''}`);
    reason = parts.join('; ');
  }
  if (inProgress && !inProgress.processAlive) {
    raise('WARNING');
    reason += `; a run marked in progress since ${inProgress.startedAt} has no process (pid ${inProgress.pid} is gone: the daemon was killed?)`;
  } else if (inProgress && last) {
    reason += `; run in progress since ${inProgress.startedAt}`;
  }
  return {
    role, job, state, reason, configured, schedule, maxAgeHours: maxAgeMs > 0 ? maxAgeMs / HOUR_MS : null,
    lastRun: last ? summarizeRun(last) : null, lastSuccessAt: success ? success.endedAt : null, inProgress,
    recent: list.slice(-(input.lastN ?? 3)).reverse().map(summarizeRun),
  };
}

export function status(input: StatusInput): StatusResult {
  const base = { stateDir: input.stateDir, config: input.configFile, jobs: [] as JobStatus[], unconfigured: [] as JobStatus[] };
  const h = loadHistory(input.stateDir);
  if (!h.ok) {
    return { state: 'UNKNOWN', exitCode: STATUS_EXIT.UNKNOWN, summary: `DBCAST UNKNOWN - ${h.message}`, problem: { kind: h.problem, message: h.message }, ...base };
  }
  const key = (role: string, job: string): string => `${role} ${job}`;
  const byJob = new Map<string, RunRecord[]>();
  for (const r of h.runs) {
    const list = byJob.get(key(r.role, r.job)) ?? [];
    list.push(r);
    byJob.set(key(r.role, r.job), list);
  }
  const markers = new Map(h.inProgress.map((m) => [key(m.role, m.job), m]));
  const configured = new Map((input.jobs ?? []).map((j) => [key(j.role, j.job), j]));
  const names = new Set([...configured.keys(), ...byJob.keys(), ...markers.keys()]);
  const jobs: JobStatus[] = [];
  const unconfigured: JobStatus[] = [];
  for (const k of [...names].sort()) {
    const [role, ...rest] = k.split(' ');
    const cfg = configured.get(k);
    const inConfig = input.jobs === null ? null : cfg !== undefined;
    const js = jobStatus(role as 'send' | 'receive', rest.join(' '), byJob.get(k) ?? [], cfg, inConfig, markers.get(k), input);
    (inConfig === false ? unconfigured : jobs).push(js);
  }
  if (jobs.length === 0) {
    const message = `no runs recorded in ${input.stateDir} and no configured job${input.configFile ? ` in ${input.configFile}` : ' (give --config to list the jobs that should run)'}`;
    return { state: 'UNKNOWN', exitCode: STATUS_EXIT.UNKNOWN, summary: `DBCAST UNKNOWN - ${message}`, problem: { kind: 'no-jobs', message }, ...base, unconfigured };
  }
  const state = jobs.reduce<CheckState>((s, j) => (RANK[j.state] > RANK[s] ? j.state : s), 'OK');
  const counts = (['CRITICAL', 'WARNING', 'OK'] as const).map((s) => `${jobs.filter((j) => j.state === s).length} ${s.toLowerCase()}`).join(', ');
  const worst = jobs.filter((j) => j.state === state && state !== 'OK').map((j) => `${j.role} ${j.job}: ${j.reason}`);
  const summary = `DBCAST ${state} - ${counts}${worst.length ? `; ${worst.join('; ')}` : ''}`;
  return { state, exitCode: EXIT_OF[state], summary, problem: null, ...base, jobs, unconfigured };
}

export function formatStatus(r: StatusResult, nowMs: number): string {
  const lines = [r.summary];
  const show = (j: JobStatus, label: string): void => {
    lines.push(`${label.padEnd(8)} ${j.role} ${j.job}: ${j.reason}${j.maxAgeHours !== null ? ` [max age ${+j.maxAgeHours.toFixed(2)} h]` : ''}`);
    if (j.inProgress?.processAlive) lines.push(`         in progress since ${j.inProgress.startedAt} (${ago(nowMs - Date.parse(j.inProgress.startedAt))}, pid ${j.inProgress.pid})`);
    for (const x of j.recent) {
      const secs = (Date.parse(x.endedAt) - Date.parse(x.startedAt)) / 1000;
      lines.push(`         ${x.startedAt}  ${x.result.padEnd(8)}  exit ${x.exitCode ?? '-'}  ${secs.toFixed(1)} s${x.bytes !== null ? `  ${(x.bytes / 1048576).toFixed(1)} MiB` : ''}  ${x.result === 'ok' ? '' : x.note}`.trimEnd());
    }
  };
  for (const j of r.jobs) show(j, j.state);
  for (const j of r.unconfigured) show(j, '(gone)');
  if (r.unconfigured.length) lines.push(`(gone): records of jobs ${r.config} no longer has; not counted`);
  return lines.join('\n');
}

/** The jobs of a daemon config, read as the daemon reads them (defaults, then the job's keys),
 *  but only what status needs: it must not need the key files or the interfaces. */
export function configuredJobs(file: string): { stateDir: string; jobs: ConfiguredJob[] } {
  const text = fs.readFileSync(file, 'utf8');
  const doc = parseYaml(text) as Record<string, unknown> | null;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !Array.isArray(doc.jobs)) throw new Error('expected a mapping with a jobs list');
  const defaults = (typeof doc.defaults === 'object' && doc.defaults !== null ? doc.defaults : {}) as Record<string, unknown>;
  const tz = typeof doc.timezone === 'string' ? doc.timezone : undefined;
  const jobs = (doc.jobs as unknown[]).map((item, i): ConfiguredJob => {
    const raw = { ...defaults, ...(typeof item === 'object' && item !== null ? item as Record<string, unknown> : {}) };
    if (raw.role !== 'send' && raw.role !== 'receive') throw new Error(`jobs[${i}].role: expected send or receive`);
    if (raw.job === undefined || raw.job === null) throw new Error(`jobs[${i}].job: expected the job name`);
    return { role: raw.role, job: String(raw.job), schedule: typeof raw.schedule === 'string' ? raw.schedule : null, timezone: typeof raw.timezone === 'string' ? raw.timezone : tz };
  });
  return { stateDir: typeof doc['state-dir'] === 'string' ? doc['state-dir'] : DEFAULT_STATE_DIR, jobs };
}

export const DEFAULT_STATE_DIR = '/var/lib/dbcast';
/** The config the unit files name: read when neither --config nor --state-dir is given and it exists. */
export const DEFAULT_CONFIG = '/etc/dbcast/dbcast.yaml';

/** `dbcast status` from its parsed flags: prints the text or JSON, returns the exit code. A bad
 *  flag exits 3 (UNKNOWN), as monitoring plugins do: 2 would read as CRITICAL. */
export function runStatus(argv: Record<string, unknown>, out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const json = argv.json === true;
  const unknown = (message: string, kind: string): number => {
    if (json) out(`${JSON.stringify({ state: 'UNKNOWN', exitCode: STATUS_EXIT.UNKNOWN, summary: `DBCAST UNKNOWN - ${message}`, problem: { kind, message } }, null, 2)}\n`);
    else out(`DBCAST UNKNOWN - ${message}\n`);
    return STATUS_EXIT.UNKNOWN;
  };
  const raw = argv['max-age-hours'];
  let maxAgeMs: number | undefined;
  if (raw !== undefined) {
    const h = typeof raw === 'number' ? raw : /^\s*\d+(\.\d+)?\s*$/.test(String(raw)) ? Number(raw) : NaN;
    if (!Number.isFinite(h) || h < 0) {
      process.stderr.write(`dbcast status: --max-age-hours: expected a number of hours, 0 or more (0: no age limit), got ${JSON.stringify(raw)}\nTry 'dbcast status --help'.\n`);
      return STATUS_EXIT.UNKNOWN;
    }
    maxAgeMs = h * HOUR_MS;
  }
  let stateDir = argv['state-dir'] === undefined ? DEFAULT_STATE_DIR : String(argv['state-dir']);
  let configFile: string | null = argv.config === undefined ? null : String(argv.config);
  if (configFile === null && argv['state-dir'] === undefined && fs.existsSync(DEFAULT_CONFIG)) configFile = DEFAULT_CONFIG;
  let jobs: ConfiguredJob[] | null = null;
  if (configFile !== null) {
    try {
      const c = configuredJobs(configFile);
      jobs = c.jobs;
      if (argv['state-dir'] === undefined) stateDir = c.stateDir;
    } catch (err) {
      return unknown(`cannot read the config ${configFile}: ${(err as Error).message.split('\n')[0]}`, 'config');
    }
  }
  const nowMs = Date.now();
  const r = status({ stateDir, jobs, configFile, nowMs, maxAgeMs });
  out(json ? `${JSON.stringify(r, null, 2)}\n` : `${formatStatus(r, nowMs)}\n`);
  return r.exitCode;
}
