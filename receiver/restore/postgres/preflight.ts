// Before the first byte: can we restore into this PostgreSQL server? A failure is reported
// to the sender at join time (its report shows it) instead of an hour into the transfer.
import * as fs from 'fs';
import * as os from 'os';
import type { PreflightResult } from '../preset';
import { spoolDirProblem } from '../spool';
import { sqlLiteral, type RestoreTarget } from '../target';
import { runTool } from '../tool';
import { psql } from './client';
import type { PostgresSettings, PostgresTarget } from './options';

/** --jobs auto: measured faster than streaming on both fixtures (bench/results/restore.md). */
export const autoJobs = (): number => Math.max(2, Math.min(4, os.cpus().length));

/** DROP DATABASE ... WITH (FORCE) */
const MIN_POSTGRES_MAJOR = 13;

const major = (version: string): number => Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? 0);

export async function postgresPreflight(t: RestoreTarget & PostgresSettings): Promise<PreflightResult<PostgresTarget>> {
  if (!t.whileReceiving) { const problem = spoolDirProblem(t.spoolDir); if (problem) return { ok: false, reason: problem }; }
  const v = await runTool('pg_restore', ['--version']);
  if (v.code !== 0) return { ok: false, reason: `pg_restore is not usable (${v.stderr || `status ${v.code}`}); install the PostgreSQL client` };
  const toolMajor = major(v.stdout);
  const r = await psql(t.conn, `SELECT current_setting('server_version_num')::int / 10000, (SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user), current_user, COALESCE((SELECT pg_database_size(datname) FROM pg_database WHERE datname = ${sqlLiteral(t.database)}), 0);`);
  if (r.code !== 0) return { ok: false, reason: `cannot reach PostgreSQL: ${r.stderr || `psql ${r.code === null ? 'not found' : `status ${r.code}`}`}` };
  const [serverMajor, mayCreate, user, liveBytes] = r.stdout.trim().split('|');
  if (Number(serverMajor) < MIN_POSTGRES_MAJOR) return { ok: false, reason: `PostgreSQL ${serverMajor} is too old: --restore postgres needs ${MIN_POSTGRES_MAJOR} or later` };
  if (toolMajor < Number(serverMajor)) return { ok: false, reason: `pg_restore ${toolMajor} is older than the server (${serverMajor})` };
  if (mayCreate !== 't') return { ok: false, reason: `role ${user} may not create databases (needs CREATEDB, and to own ${t.database})` };
  const warnings: string[] = [];
  if (t.restoreUser) {
    const u = await psql(t.conn, `SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = ${sqlLiteral(t.restoreUser)};`);
    const [sup, login] = u.stdout.trim().split('|');
    if (u.code !== 0 || sup === undefined || sup === '') return { ok: false, reason: `--restore-user ${t.restoreUser}: no such role` };
    if (sup === 't') return { ok: false, reason: `--restore-user ${t.restoreUser} is a superuser; give a role without SUPERUSER (it only needs to own the staging database)` };
    if (login !== 't') return { ok: false, reason: `--restore-user ${t.restoreUser} may not log in (needs LOGIN)` };
  } else if (user !== undefined) {
    const u = await psql(t.conn, 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user;');
    if (u.stdout.trim() === 't') warnings.push(`pg_restore runs as the superuser ${user}: a dump can do anything a superuser can (give --restore-user for a role that only owns the staging database)`);
  }
  let jobs = t.jobs;
  let how: string;
  if (t.whileReceiving) {
    jobs = 1;
    how = ', streaming into pg_restore while receiving';
  } else {
    if (jobs === 'auto') jobs = autoJobs();
    how = `, spooled in ${t.spoolDir}, then pg_restore -j ${jobs}`;
    const problem = spoolProblem(t.spoolDir, Number(liveBytes));
    if (problem) warnings.push(`${problem}: the spool may not fit (the dump is usually smaller than the database)`);
  }
  return { ok: true, ready: { ...t, jobs }, summary: `pg_restore ${toolMajor}, server ${serverMajor}, as ${t.restoreUser ?? user}${how}`, warnings };
}

/** The spool holds the dump; the live database's size is the best estimate there is before it arrives. */
function spoolProblem(dir: string, neededBytes: number): string | null {
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  if (free < neededBytes) return `--spool-dir ${dir} has ${(free / 2 ** 30).toFixed(1)} GiB free; the live database is ${(neededBytes / 2 ** 30).toFixed(1)} GiB`;
  return null;
}
