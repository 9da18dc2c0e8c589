// The live cluster under the operator's stop/start commands, and the check that it answers:
// psql on --db-host/--db-port/--db-user runs SELECT pg_is_in_recovery() and the server's system
// identifier, which must be the one in the data directory's pg_control (so that the answer
// comes from this cluster, not another server on a wrong port).
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '../../../runtime/log';
import { OutputTail } from '../../../runtime/output-tail';
import { pgConnArgs } from '../postgres/client';
import { describeCommand, fileTail, lastLines, runShell } from '../server-swap/shell-command';
import type { ServerControl, StepResult } from '../server-swap/swap';
import type { PgClusterReady } from './options';

/** A stop or start command (a checkpoint, crash recovery) has this long. */
export const COMMAND_TIMEOUT_MS = 15 * 60_000;
const CHECK_ATTEMPT_TIMEOUT_MS = 10_000;
const CHECK_INTERVAL_MS = 500;
/** Consecutive checks that find no pid file before the server counts as not started. */
const NOT_RUNNING_LIMIT = 6;
const LOG_LINES = 8;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The database system identifier: the first 8 bytes of global/pg_control (little-endian on the hosts PostgreSQL runs on). */
export function readSystemId(dataDir: string): string {
  const fd = fs.openSync(path.join(dataDir, 'global', 'pg_control'), 'r');
  try {
    const b = Buffer.alloc(8);
    if (fs.readSync(fd, b, 0, 8, 0) !== 8) throw new Error('pg_control is too short');
    return b.readBigUInt64LE(0).toString();
  } finally { fs.closeSync(fd); }
}

export interface QueryResult { ok: boolean; stdout: string; error: string }

/** psql as the cluster's owner when dbcast runs as root (peer authentication then matches). */
export function checkQuery(t: PgClusterReady, sql: string): Promise<QueryResult> {
  return new Promise((resolve) => {
    const ids = t.actAsOwner ? { uid: t.owner.uid, gid: t.owner.gid } : {};
    const child = spawn('psql', ['-X', '-A', '-t', '-w', '-v', 'ON_ERROR_STOP=1', ...pgConnArgs(t.conn), '-d', 'postgres', '-c', sql],
      { stdio: ['ignore', 'pipe', 'pipe'], ...ids, cwd: '/' });
    let stdout = ''; const err = new OutputTail(2048);
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 65536) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHECK_ATTEMPT_TIMEOUT_MS);
    child.once('error', (e) => { clearTimeout(timer); resolve({ ok: false, stdout: '', error: e.message }); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ ok: code === 0, stdout: stdout.trim(), error: err.lines(2) || `psql exited with status ${code}` }); });
  });
}

export const CHECK_SQL = 'SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system()), (SELECT timeline_id FROM pg_control_checkpoint())';

export interface PgExpectations { newSystemId: string; afterPromotion: () => Promise<void> }

export class PgClusterControl implements ServerControl {
  /** Set once the new copy's pg_control is known (before the swap). */
  expect: PgExpectations | null = null;

  constructor(private readonly t: PgClusterReady, private readonly log: Logger) {}

  async running(): Promise<boolean> {
    try { await fs.promises.lstat(path.join(this.t.dataDir, 'postmaster.pid')); return true; } catch { return false; }
  }

  /** The report gets the short form (its detail is small); the log gets the command and its output. */
  private async command(what: 'stop' | 'start', cmd: string): Promise<StepResult> {
    this.log.info(`running the ${what} command: ${cmd}`);
    const r = await runShell(cmd, COMMAND_TIMEOUT_MS);
    if (r.ok) return { ok: true, message: '' };
    this.log.error(`the ${what} command ${describeCommand(r, COMMAND_TIMEOUT_MS)}: ${cmd}`);
    return { ok: false, message: `the ${what} command ${describeCommand({ ...r, output: '' }, COMMAND_TIMEOUT_MS)}` };
  }

  stop(): Promise<StepResult> { return this.command('stop', this.t.stopCommand); }
  start(): Promise<StepResult> { return this.command('start', this.t.startCommand); }

  async check(which: 'new' | 'old'): Promise<StepResult> {
    const wantId = which === 'new' ? this.expect?.newSystemId : this.t.liveSystemId;
    const deadline = Date.now() + this.t.checkTimeoutSec * 1000;
    let last = 'no answer yet';
    let notRunning = 0;
    for (;;) {
      const r = await checkQuery(this.t, CHECK_SQL);
      if (r.ok) {
        const [inRecovery, systemId, timeline] = r.stdout.split('|');
        if (wantId && systemId !== wantId) return { ok: false, message: `another server answers (system identifier ${systemId}, not ${wantId}): do --db-host/--db-port reach this cluster?` };
        if (which === 'old') return { ok: true, message: '' };
        if (this.t.asStandby) {
          if (inRecovery === 't') return { ok: true, message: 'running as a standby of the primary' };
          return { ok: false, message: 'the copy is not in recovery: it does not run as a standby' };
        }
        if (inRecovery === 'f') {
          await this.expect?.afterPromotion();
          return { ok: true, message: `promoted to its own timeline ${timeline}` };
        }
        last = 'still in recovery (waiting for the promotion)';
      } else {
        last = r.error;
        notRunning = (await this.running()) ? 0 : notRunning + 1;
        if (notRunning >= NOT_RUNNING_LIMIT) return { ok: false, message: 'the server is not running (no postmaster.pid)' };
      }
      if (Date.now() >= deadline) this.log.error(`check: last answer: ${last}`);
        return { ok: false, message: `no good answer within ${this.t.checkTimeoutSec} s (--check-timeout-sec): ${last.slice(0, 80)}` };
      await sleep(CHECK_INTERVAL_MS);
    }
  }

  /** The log's last lines go to dbcast's log; the report gets its last FATAL/PANIC/ERROR lines. */
  async lastLog(): Promise<string> {
    const file = this.t.serverLog || newestLog(path.join(this.t.dataDir, 'log'));
    if (!file) return '';
    const tail = fileTail(file);
    this.log.error(`the server's log (${file}) ends with: ${lastLines(tail, LOG_LINES)}`);
    return serverLogSummary(tail);
  }
}

/** The last error lines of a server log, without their timestamp and pid prefix. */
export function serverLogSummary(tail: string): string {
  const lines = tail.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\d [\d:.]+(?: \w+)? \[\d+\] /, '').trim()).filter(Boolean);
  const errors = lines.filter((l) => /^(FATAL|PANIC|ERROR):/.test(l));
  return (errors.length ? errors : lines).slice(-2).join(' | ');
}

/** The newest file in a logging_collector directory, or ''. */
function newestLog(dir: string): string {
  try {
    const files = fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
    files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    return files[0] ?? '';
  } catch { return ''; }
}
