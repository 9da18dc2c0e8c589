// Is the server up, on which data directory, and what did it last log? The check connection
// is the shared --db-host/--db-port/--db-user (or the client's defaults: ~/.my.cnf).
import * as fs from 'fs';
import * as path from 'path';
import { myConnArgs } from '../mariadb/client';
import type { DbConnection } from '../target';
import { runTool } from '../tool';
import type { MariadbServerSettings } from './options';

const PROBE_TIMEOUT_MS = 15_000;
const POLL_INTERVAL_MS = 500;
const LOG_LINES = 8;

export type Probe = { up: true; datadir: string; version: string } | { up: false; error: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ServerCheck {
  constructor(readonly clientBin: string, readonly conn: DbConnection) {}

  private args(names = false): string[] { return ['--batch', ...(names ? [] : ['--skip-column-names']), '--connect-timeout=5', ...myConnArgs(this.conn)]; }

  async probe(): Promise<Probe> {
    const r = await runTool(this.clientBin, this.args(), 'SELECT @@datadir, VERSION();', PROBE_TIMEOUT_MS);
    if (r.code !== 0) return { up: false, error: r.stderr.trim() || `${this.clientBin} exited with status ${r.code}` };
    const [datadir = '', version = ''] = r.stdout.trim().split('\t');
    return { up: true, datadir: datadir.replace(/\/+$/, ''), version };
  }

  /** Statements through the client's stdin (so a password in them never shows in ps).
   *  names: keep the column names (a \G result is "name: value" lines). */
  async run(sql: string, names = false): Promise<string> {
    const r = await runTool(this.clientBin, this.args(names), sql, PROBE_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(r.stderr.trim() || `${this.clientBin} exited with status ${r.code}`);
    return r.stdout;
  }

  /** Polls until the server answers (or timeoutMs); the last probe. */
  async waitUp(timeoutMs: number): Promise<Probe> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.probe();
      if (p.up || Date.now() >= end) return p;
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /** Polls until the server no longer answers; false if it still does after timeoutMs. */
  async waitDown(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (!(await this.probe()).up) return true;
      if (Date.now() >= end) return false;
      await sleep(POLL_INTERVAL_MS);
    }
  }
}

/** The server's last words: --server-log, else the newest *.err in the data directory, else the
 *  systemd unit's journal (the default commands), else ''. */
export async function serverLogTail(s: MariadbServerSettings, dataDir = s.dataDir): Promise<string> {
  let file = s.serverLog;
  if (!file) {
    try {
      const errs = fs.readdirSync(dataDir).filter((n) => n.endsWith('.err')).map((n) => path.join(dataDir, n));
      errs.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
      file = errs[0];
    } catch { /* no data directory */ }
  }
  if (file) {
    try { return lastLines(fs.readFileSync(file, 'utf8'), LOG_LINES); } catch (err) { return `(cannot read ${file}: ${(err as Error).message})`; }
  }
  if (s.unit) {
    const r = await runTool('journalctl', ['-u', s.unit, '-n', String(LOG_LINES), '--no-pager', '-o', 'cat'], undefined, 10_000);
    if (r.code === 0) return r.stdout.trim();
  }
  return '';
}

export function lastLines(text: string, n: number): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
}

/** The lines that say why, for a report that has little room: the last [ERROR] lines, else the
 *  last lines; without their timestamps. */
export function errorSummary(log: string, n = 2): string {
  const lines = log.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\s+/, '').trim()).filter((l) => l !== '');
  const errors = lines.filter((l) => /\[ERROR\]/.test(l));
  return (errors.length > 0 ? errors : lines).slice(-n).join(' | ');
}

/** Pids of processes whose working directory is `dir`: mariadbd runs in its data directory, so
 *  this finds a server even when the check connection cannot reach it (wrong credentials, no
 *  socket). Processes of other users are visible only to root (the usual receiver). */
export function processesIn(dir: string): number[] {
  let want: string;
  try { want = fs.realpathSync(dir); } catch { return []; }
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try { if (fs.readlinkSync(`/proc/${name}/cwd`) === want) pids.push(Number(name)); } catch { /* gone, or not ours to see */ }
  }
  return pids;
}
