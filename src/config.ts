// The daemon's YAML config: validated completely at start (and on SIGHUP) with messages that
// name the key and its line. A job's keys are the flags of `dbcast send` / `dbcast receive`
// (src/flags.ts), checked by the same code as the command line (src/options.ts).
import * as fs from 'fs';
import cron from 'node-cron';
import { LineCounter, parseDocument, isMap, isSeq, type Document } from 'yaml';
import { COMMON, RECEIVE, SEND } from './flags';
import { parseReceiveOptions, parseSendOptions, type ReceiveOptions, type SendOptions } from './options';
import { resolveInterface } from '../runtime/net';
import { UsageError } from '../runtime/usage-error';

/** Keys a daemon job has beyond the command's flags. */
const JOB_KEYS = ['role', 'schedule', 'timezone', 'open-before-sec', 'window-sec', 'catch-up', 'on-success', 'on-failure', 'hook-timeout-sec'] as const;
/** Job keys `defaults` may also give, for every job. */
const HOOK_KEYS = ['on-success', 'on-failure', 'hook-timeout-sec'];
/** A hook that runs longer is killed (its whole process group). */
export const DEFAULT_HOOK_TIMEOUT_SEC = 60;
const MAX_HOOK_TIMEOUT_SEC = 3600;
/** Flags whose check needs this host (the interface exists here, the key file is readable here). */
const HOST_LOCAL_FLAGS = ['interface', 'key-file'] as const;
/** Flags a daemon job may not use: the daemon owns them. */
const DAEMON_OWNED = ['report', 'stdout'];
const TOP_KEYS = ['state-dir', 'timezone', 'log-level', 'log-format', 'metrics-listen', 'defaults', 'jobs'];
export const MAX_JOBS = 64;

export interface JobConfig {
  /** Position in the config (jobs[i]), for messages. */
  index: number;
  role: 'send' | 'receive';
  job: string;
  /** Cron expression (5 or 6 fields, seconds first when 6); receivers without one listen all the time. */
  schedule: string | null;
  timezone: string | undefined;
  /** Receivers with a schedule: start listening this long before the scheduled time ... */
  openBeforeMs: number;
  /** ... and keep waiting for the sender this long after it. */
  windowMs: number;
  /** catch-up: a run missed while the daemon was down runs once at start (send jobs). */
  catchUp: boolean;
  /** Shell commands run after a run (src/daemon/hooks.ts): on-success after an ok run, on-failure otherwise. */
  hooks: { onSuccess: string | null; onFailure: string | null; timeoutMs: number };
  /** The flags as given, for the child process's command line. */
  flags: Record<string, unknown>;
  options: SendOptions | ReceiveOptions;
}

export interface DaemonConfig {
  file: string;
  stateDir: string;
  logLevel: string;
  logFormat: 'auto' | 'text' | 'json';
  /** Prometheus endpoint, e.g. 127.0.0.1:9187; null = none. */
  metricsListen: { host: string; port: number } | null;
  jobs: JobConfig[];
  /** What was not checked and why (validated for another host); empty for a config for this host. */
  warnings: string[];
}

/**
 * hostIndependent: true checks everything but what only the host the config is for can tell
 * (its interface, its key file); 'auto' does so when the config names an interface this host
 * lacks; false (the daemon) checks everything here.
 */
export interface LoadOptions { hostIndependent?: boolean | 'auto' }

/** Misconfiguration: names the file, line and key. Exit code 2, like a bad flag. */
export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(readonly file: string, readonly line: number | null, readonly key: string, message: string) {
    super(`${file}${line ? ` line ${line}` : ''}: ${key}: ${message}`);
  }
}

function validTimezone(tz: string): boolean {
  try { new Intl.DateTimeFormat('en', { timeZone: tz }); return true; } catch { return false; }
}

export function loadConfig(file: string, load: LoadOptions = {}): DaemonConfig {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) { throw new ConfigError(file, null, 'config', `cannot read it: ${(err as Error).message}`); }
  return parseConfig(text, file, load);
}

/** An interface name (not an address: that is checked for form anywhere) this host lacks. */
function isAbsentName(value: unknown): value is string {
  if (typeof value !== 'string' || value === '' || /^[\d.]+$/.test(value)) return false;
  try { resolveInterface(value); return false; } catch (err) { if (err instanceof UsageError) return true; throw err; }
}

/** An interface named in the config (defaults or a job) that this host lacks, or null. */
function absentInterface(top: Record<string, unknown>): string | null {
  const named = [top.defaults, ...(Array.isArray(top.jobs) ? top.jobs : [])]
    .map((x) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>).interface : undefined));
  return named.find(isAbsentName) ?? null;
}

export function parseConfig(text: string, file: string, load: LoadOptions = {}): DaemonConfig {
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(file, e.linePos?.[0].line ?? null, 'yaml', e.message.split('\n')[0]);
  }
  const lineOf = (path: (string | number)[]): number | null => {
    for (let p = path; p.length > 0; p = p.slice(0, -1)) {
      const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return null;
  };
  const fail = (path: (string | number)[], message: string): never => {
    throw new ConfigError(file, lineOf(path), path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '['), message);
  };
  const root = doc.toJS() as unknown;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) fail(['config'], 'expected a mapping with a jobs list');
  const top = root as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k)) fail([k], `unknown key; expected one of ${TOP_KEYS.join(', ')}`);
  const str = (path: (string | number)[], v: unknown, def: string): string => {
    if (v === undefined) return def;
    if (typeof v !== 'string' || v === '') fail(path, `expected a non-empty text, got ${JSON.stringify(v)}`);
    return v as string;
  };
  const timezone = top.timezone === undefined ? undefined : str(['timezone'], top.timezone, '');
  if (timezone !== undefined && !validTimezone(timezone)) fail(['timezone'], `expected an IANA time zone such as Europe/Berlin or UTC, got ${JSON.stringify(timezone)}`);
  const logFormat = str(['log-format'], top['log-format'], 'auto');
  if (!['auto', 'text', 'json'].includes(logFormat)) fail(['log-format'], `expected auto, text or json, got ${JSON.stringify(logFormat)}`);
  const logLevel = str(['log-level'], top['log-level'], 'info');
  if (!['error', 'warn', 'info', 'verbose', 'debug'].includes(logLevel)) fail(['log-level'], `expected one of error, warn, info, verbose, debug, got ${JSON.stringify(logLevel)}`);

  let metricsListen: DaemonConfig['metricsListen'] = null;
  if (top['metrics-listen'] !== undefined) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]|localhost):(\d{1,5})$/.exec(String(top['metrics-listen']));
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(['metrics-listen'], `expected HOST:PORT such as 127.0.0.1:9187, got ${JSON.stringify(top['metrics-listen'])}`);
    metricsListen = { host: (m as RegExpExecArray)[1].replace(/^\[|\]$/g, ''), port: Number((m as RegExpExecArray)[2]) };
  }
  const defaults = top.defaults ?? {};
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) fail(['defaults'], 'expected a mapping of flags shared by every job');
  for (const k of Object.keys(defaults as object)) if (!(k in COMMON) && !HOOK_KEYS.includes(k)) fail(['defaults', k], `expected one of the common flags or hook keys: ${[...Object.keys(COMMON), ...HOOK_KEYS].join(', ')}`);

  if (!isSeq(doc.get('jobs', true)) || !Array.isArray(top.jobs) || top.jobs.length === 0) fail(['jobs'], 'expected a list of jobs (at least one)');
  const list = top.jobs as unknown[];
  if (list.length > MAX_JOBS) fail(['jobs'], `at most ${MAX_JOBS} jobs`);
  const warnings: string[] = [];
  let hostIndependent = load.hostIndependent === true;
  if (load.hostIndependent === 'auto') {
    const absent = absentInterface(top);
    if (absent !== null) {
      hostIndependent = true;
      warnings.push(`interface ${absent} is not on this host: validated as a config for another host (interface and key-file not checked here; run dbcast check on that host)`);
    }
  }
  const jobs: JobConfig[] = [];
  const seen = new Set<string>();
  list.forEach((item, index) => {
    const at = (k?: string): (string | number)[] => (k ? ['jobs', index, k] : ['jobs', index]);
    if (!isMap(doc.getIn(at(), true))) fail(at(), 'expected a mapping (role, job, schedule and flags)');
    const raw = { ...(defaults as Record<string, unknown>), ...(item as Record<string, unknown>) };
    const role = raw.role;
    if (role !== 'send' && role !== 'receive') fail(at('role'), `expected send or receive, got ${JSON.stringify(role)}`);
    const allowed = { ...COMMON, ...(role === 'send' ? SEND : RECEIVE) } as Record<string, unknown>;
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) {
      if ((JOB_KEYS as readonly string[]).includes(k)) continue;
      if (DAEMON_OWNED.includes(k)) fail(at(k), 'set by the daemon (run records go to state-dir); remove it');
      if (!(k in allowed)) fail(at(k), `unknown key for a ${role} job; expected ${[...JOB_KEYS, ...Object.keys(allowed).filter((x) => !DAEMON_OWNED.includes(x))].join(', ')}`);
      if (v !== null && typeof v === 'object' && !(Array.isArray(v) && k === 'restore-arg')) fail(at(k), `expected a single value, got ${JSON.stringify(v)}`);
      flags[k] = typeof v === 'number' ? String(v) : v;
    }
    if (flags.job === undefined) fail(at('job'), 'expected the job name (sender and receivers must agree)');
    let options: SendOptions | ReceiveOptions;
    // For another host: its interface and key file are checked for form only.
    const checked = { ...flags };
    if (hostIndependent) {
      for (const k of HOST_LOCAL_FLAGS) {
        if (checked[k] === undefined) continue;
        if (typeof checked[k] !== 'string' || checked[k] === '') fail(at(k), `expected a non-empty text, got ${JSON.stringify(checked[k])}`);
        if (k === 'key-file' || isAbsentName(checked[k])) delete checked[k];
      }
    }
    try {
      options = role === 'send' ? parseSendOptions(checked) : parseReceiveOptions(checked);
    } catch (err) {
      if (err instanceof UsageError) fail(at(err.key), err.message.replace(/^--[\w-]+: /, ''));
      throw err;
    }
    if (role === 'send' && flags.command === undefined) fail(at('command'), 'a send job needs the dump command (e.g. pg_dump -Fc app)');
    if (role === 'receive' && !('output' in flags) && !('pipe' in flags) && !('restore' in flags)) fail(at(), 'a receive job needs output, pipe or restore');
    const schedule = raw.schedule === undefined ? null : str(at('schedule'), raw.schedule, '');
    if (schedule !== null) {
      const v = cron.validateDetailed(schedule);
      if (!v.valid) fail(at('schedule'), `expected a cron expression ("0 2 * * *": 02:00 every day), got ${JSON.stringify(schedule)}: ${v.errors.map((e) => e.message).join('; ')}`);
    } else if (role === 'send') fail(at('schedule'), 'a send job needs a schedule (cron expression, e.g. "0 2 * * *")');
    const jobTz = raw.timezone === undefined ? timezone : str(at('timezone'), raw.timezone, '');
    if (jobTz !== undefined && !validTimezone(jobTz)) fail(at('timezone'), `expected an IANA time zone, got ${JSON.stringify(jobTz)}`);
    const seconds = (k: string, def: number): number => {
      const v = raw[k];
      if (v === undefined) return def * 1000;
      if (typeof v !== 'number' || !(v >= 0) || v > 86_400) fail(at(k), `expected seconds from 0 to 86400, got ${JSON.stringify(v)}`);
      return (v as number) * 1000;
    };
    const catchUp = raw['catch-up'] ?? false;
    if (typeof catchUp !== 'boolean') fail(at('catch-up'), `expected true or false, got ${JSON.stringify(catchUp)}`);
    if (catchUp === true && role !== 'send') fail(at('catch-up'), 'only for send jobs: a receiver cannot run without its sender (a receiver without schedule takes a sender\'s catch-up run)');
    const key = `${role}:${options.job}`;
    if (seen.has(key)) fail(at('job'), `a second ${role} job named ${options.job}; one per role and job`);
    const hook = (k: string): string | null => {
      const v = raw[k];
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string' || v.trim() === '') fail(at(k), `expected a shell command (run with /bin/sh -c, e.g. "/usr/local/bin/notify-ops"), got ${JSON.stringify(v)}`);
      return v as string;
    };
    const hookTimeout = raw['hook-timeout-sec'] ?? DEFAULT_HOOK_TIMEOUT_SEC;
    if (typeof hookTimeout !== 'number' || !Number.isInteger(hookTimeout) || hookTimeout < 1 || hookTimeout > MAX_HOOK_TIMEOUT_SEC) {
      fail(at('hook-timeout-sec'), `expected whole seconds from 1 to ${MAX_HOOK_TIMEOUT_SEC}, got ${JSON.stringify(hookTimeout)}`);
    }
    const hooks = { onSuccess: hook('on-success'), onFailure: hook('on-failure'), timeoutMs: (hookTimeout as number) * 1000 };
    seen.add(key);
    jobs.push({
      index, role: role as 'send' | 'receive', job: options.job, schedule, timezone: jobTz,
      openBeforeMs: seconds('open-before-sec', 120), windowMs: seconds('window-sec', 900), catchUp: catchUp as boolean, hooks, flags, options,
    });
  });
  return { file, stateDir: str(['state-dir'], top['state-dir'], '/var/lib/dbcast'), logLevel, logFormat: logFormat as DaemonConfig['logFormat'], metricsListen, jobs, warnings };
}

/** A job's flags as the child's command line: --key=value, repeated for lists, bare for true. */
export function jobArgs(flags: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === true) args.push(`--${k}`);
    else if (v === false || v === null || v === undefined) continue;
    else if (Array.isArray(v)) for (const x of v) args.push(`--${k}=${String(x)}`);
    else args.push(`--${k}=${String(v)}`);
  }
  return args;
}
