// `dbcast check [JOB]`: can the configured jobs run on this host, now? The restore preflight of
// each receive job (the preset's own: tools, server, login, rights, spool space), the dump or
// pipe command's program, where output goes, the interface, the key file, clock sync, the
// state directory, and each job's next run. One line per check, the worst first as a summary
// line, and the monitoring-plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) as
// `dbcast status` uses. Run it as the user the daemon runs as: rights are that user's.
import * as fs from 'fs';
import * as path from 'path';
import { STATUS_EXIT } from '../runtime/exit-codes';
import { checkClockSync } from '../runtime/clock-sync';
import { readKeyFile } from '../runtime/key-file';
import { requireLocalAddress, resolveInterface } from '../runtime/net';
import { UsageError } from '../runtime/usage-error';
import { preflightRestore } from '../receiver/restore/preflight';
import { runTool } from '../receiver/restore/tool';
import type { ReceiveOptions } from '../receiver/receive-options';
import type { SendOptions } from '../sender/send-options';
import { ConfigError, parseConfig, type DaemonConfig, type JobConfig } from './config';
import { nextRunAt, localZone, wallAt } from './daemon/schedule';

export type CheckState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
export interface CheckLine { state: CheckState; subject: string; detail: string }

const RANK: Record<CheckState, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
const EXIT_OF: Record<CheckState, number> = { OK: STATUS_EXIT.OK, WARNING: STATUS_EXIT.WARNING, CRITICAL: STATUS_EXIT.CRITICAL, UNKNOWN: STATUS_EXIT.UNKNOWN };
/** How long a program lookup may take (a shell's `command -v`). */
const LOOKUP_TIMEOUT_MS = 10_000;

const line = (state: CheckState, subject: string, detail: string): CheckLine => ({ state, subject, detail });

/** The program a shell command line starts (after VAR=value words), or null when it is not a plain word. */
export function programOf(command: string): string | null {
  for (const word of command.trim().split(/\s+/)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) continue;
    return /^[A-Za-z0-9_./+-]+$/.test(word) ? word : null;
  }
  return null;
}

async function programCheck(subject: string, what: string, command: string | undefined): Promise<CheckLine | null> {
  if (command === undefined) return null;
  const program = programOf(command);
  if (program === null) return line('OK', subject, `${what}: a shell command line (its program is not checked here)`);
  const r = await runTool('/bin/sh', ['-c', 'command -v -- "$1"', 'sh', program], undefined, LOOKUP_TIMEOUT_MS);
  const found = r.stdout.trim();
  if (r.code === 0 && found) return line('OK', subject, `${what}: ${program} is ${found}`);
  return line('CRITICAL', subject, `${what}: ${program} not found (PATH=${process.env.PATH ?? ''})`);
}

/** A directory this user may create files in. */
function writableDir(dir: string): string | null {
  try {
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`;
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return null;
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

function interfaceCheck(subject: string, job: JobConfig): CheckLine {
  const value = job.flags.interface;
  if (value === undefined) return line('OK', subject, 'interface: none configured (the routing default)');
  try {
    const address = resolveInterface(String(value));
    requireLocalAddress(address); // an address must be this host's
    return line('OK', subject, `interface ${String(value)}${address !== value ? ` (${address})` : ''}`);
  } catch (err) {
    if (err instanceof UsageError) return line('CRITICAL', subject, `interface: ${err.message.replace(/^--interface: /, '')}`);
    throw err;
  }
}

function keyFileCheck(subject: string, job: JobConfig): CheckLine | null {
  const file = job.flags['key-file'];
  if (file === undefined) return null;
  try {
    readKeyFile(String(file)).fill(0);
    return line('OK', subject, `key-file ${String(file)}: a key, readable only by its owner`);
  } catch (err) {
    if (err instanceof UsageError) return line('CRITICAL', subject, `key-file: ${err.message.replace(/^--key-file: /, '')}`);
    throw err;
  }
}

function scheduleCheck(subject: string, job: JobConfig, nowMs: number): CheckLine {
  if (!job.schedule) return line('OK', subject, 'schedule: none, listens for the job\'s sessions at all times');
  const next = nextRunAt(job, nowMs);
  const tz = job.timezone ?? localZone();
  if (!next) return line('WARNING', subject, `schedule "${job.schedule}" (${tz}) has no next run`);
  const local = new Date(wallAt(next.getTime(), tz)).toISOString().slice(0, 16).replace('T', ' ');
  const window = job.role === 'receive'
    ? `, listening from ${new Date(next.getTime() - job.openBeforeMs).toISOString()} to ${new Date(next.getTime() + job.windowMs).toISOString()}` : '';
  return line('OK', subject, `next run ${next.toISOString()} (${local} ${tz})${window}`);
}

async function receiveChecks(subject: string, o: ReceiveOptions): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  const pipe = await programCheck(subject, 'pipe', o.pipeCommand);
  if (pipe) out.push(pipe);
  const dir = o.archive?.dir ?? (o.outputFile !== undefined ? path.dirname(path.resolve(o.outputFile)) : undefined);
  if (dir !== undefined) {
    const problem = writableDir(dir);
    out.push(problem ? line('CRITICAL', subject, `output: cannot write in ${problem}`) : line('OK', subject, `output: ${dir} is writable`));
  }
  if (o.restore) {
    const p = await preflightRestore(o.restore);
    if (!p.ok) out.push(line('CRITICAL', subject, `restore ${o.restore.kind} preflight: ${p.reason}`));
    else {
      out.push(line('OK', subject, `restore ${o.restore.kind} preflight: ${p.summary}`));
      for (const w of p.warnings) out.push(line('WARNING', subject, `restore ${o.restore.kind}: ${w}`));
    }
  }
  return out;
}

function stateDirCheck(stateDir: string): CheckLine {
  const subject = 'state-dir';
  if (fs.existsSync(stateDir)) {
    const problem = writableDir(stateDir);
    return problem ? line('CRITICAL', subject, `the daemon cannot write its run records: ${problem}`) : line('OK', subject, `${stateDir} is writable`);
  }
  // The daemon creates it (and its parents).
  let parent = path.dirname(path.resolve(stateDir));
  while (!fs.existsSync(parent) && parent !== path.dirname(parent)) parent = path.dirname(parent);
  const problem = writableDir(parent);
  return problem ? line('CRITICAL', subject, `${stateDir} does not exist and cannot be created: ${problem}`) : line('OK', subject, `${stateDir} does not exist yet; the daemon creates it`);
}

function clockCheck(): CheckLine {
  const c = checkClockSync();
  if (c.state === 'synchronized') return line('OK', 'clock', `synchronised (${c.source})`);
  return line('WARNING', 'clock', `${c.state === 'unknown' ? 'synchronisation unknown' : 'NOT synchronised'} (${c.source}): scheduled runs on several hosts rely on synchronised clocks`);
}

/** The checks of the jobs named `jobName` (both roles), or of every job. */
export async function checkConfig(config: DaemonConfig, jobName: string | undefined, nowMs: number): Promise<CheckLine[]> {
  const jobs = config.jobs.filter((j) => jobName === undefined || j.job === jobName);
  const out: CheckLine[] = [line('OK', 'config', `${config.file}: ${config.jobs.length} job(s)${jobName !== undefined ? `, checking ${jobs.length} named ${jobName}` : ''}`)];
  out.push(stateDirCheck(config.stateDir), clockCheck());
  for (const job of jobs) {
    const subject = `${job.role} job ${job.job}`;
    out.push(interfaceCheck(subject, job));
    const key = keyFileCheck(subject, job);
    if (key) out.push(key);
    if (job.role === 'send') {
      const cmd = await programCheck(subject, 'command', (job.options as SendOptions).command);
      if (cmd) out.push(cmd);
    } else {
      out.push(...await receiveChecks(subject, job.options as ReceiveOptions));
    }
    out.push(scheduleCheck(subject, job, nowMs));
  }
  return out;
}

export function worst(lines: readonly CheckLine[]): CheckState {
  return lines.reduce<CheckState>((w, l) => (RANK[l.state] > RANK[w] ? l.state : w), 'OK');
}

export function formatLine(l: CheckLine): string {
  return `${l.state.padEnd(8)} ${l.subject}: ${l.detail}`;
}

/** The command: prints the summary then one line per check; returns the exit code. */
export async function runCheck(configFile: string, jobName: string | undefined, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const report = (lines: CheckLine[]): number => {
    const state = worst(lines);
    const counts = (['CRITICAL', 'WARNING', 'UNKNOWN', 'OK'] as const).map((s) => [s, lines.filter((l) => l.state === s).length] as const)
      .filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s.toLowerCase()}`);
    write(`DBCAST CHECK ${state}: ${counts.join(', ')}\n${lines.map(formatLine).join('\n')}\n`);
    return EXIT_OF[state];
  };
  let text: string;
  try { text = fs.readFileSync(configFile, 'utf8'); } catch (err) {
    return report([line('UNKNOWN', 'config', `cannot read ${configFile}: ${(err as Error).message}`)]);
  }
  let config: DaemonConfig;
  try {
    // Host-local flags are checked below, one line each, rather than failing the whole config.
    config = parseConfig(text, configFile, { hostIndependent: true });
  } catch (err) {
    if (err instanceof ConfigError) return report([line('CRITICAL', 'config', err.message)]);
    throw err;
  }
  if (jobName !== undefined && !config.jobs.some((j) => j.job === jobName)) {
    return report([line('UNKNOWN', 'config', `no job named ${jobName} in ${configFile}; its jobs: ${[...new Set(config.jobs.map((j) => j.job))].join(', ')}`)]);
  }
  return report(await checkConfig(config, jobName, Date.now()));
}
