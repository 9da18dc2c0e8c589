// Before the first byte: is the restore target usable? A failure is reported to the sender
// at join time (its report shows it) instead of an hour into the transfer.
import * as fs from 'fs';
import * as os from 'os';
import { psql } from './pg-client';
import { MyClient } from './my-client';
import { sqlLiteral, type RestoreTarget } from './target';
import { runTool } from './tool';

export type PreflightResult = { ok: true; clientBin: string; summary: string; target: RestoreTarget } | { ok: false; reason: string };

/** --jobs auto: measured faster than streaming on both fixtures (bench/results/restore.md). */
export const autoJobs = (): number => Math.max(2, Math.min(4, os.cpus().length));

/** DROP DATABASE ... WITH (FORCE) */
const MIN_POSTGRES_MAJOR = 13;

const major = (version: string): number => Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? 0);

async function postgres(t: RestoreTarget): Promise<PreflightResult> {
  const v = await runTool('pg_restore', ['--version']);
  if (v.code !== 0) return { ok: false, reason: `pg_restore is not usable (${v.stderr || `status ${v.code}`}); install the PostgreSQL client` };
  const toolMajor = major(v.stdout);
  const r = await psql(t.conn, `SELECT current_setting('server_version_num')::int / 10000, (SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user), current_user, COALESCE((SELECT pg_database_size(datname) FROM pg_database WHERE datname = ${sqlLiteral(t.database)}), 0);`);
  if (r.code !== 0) return { ok: false, reason: `cannot reach PostgreSQL: ${r.stderr || `psql ${r.code === null ? 'not found' : `status ${r.code}`}`}` };
  const [serverMajor, mayCreate, user, liveBytes] = r.stdout.trim().split('|');
  if (Number(serverMajor) < MIN_POSTGRES_MAJOR) return { ok: false, reason: `PostgreSQL ${serverMajor} is too old: --restore postgres needs ${MIN_POSTGRES_MAJOR} or later` };
  if (toolMajor < Number(serverMajor)) return { ok: false, reason: `pg_restore ${toolMajor} is older than the server (${serverMajor})` };
  if (mayCreate !== 't') return { ok: false, reason: `role ${user} may not create databases (needs CREATEDB, and to own ${t.database})` };
  let jobs = t.jobs;
  let how = '';
  if (jobs === 'auto') {
    // Parallel when the spool has room; else stream, which needs no disk.
    const problem = spoolProblem(t.spoolDir, Number(liveBytes));
    jobs = problem ? 1 : autoJobs();
    how = problem ? `, streaming into pg_restore (${problem})` : `, pg_restore -j ${jobs} on a spool in ${t.spoolDir}`;
  } else if (jobs > 1) {
    const problem = spoolProblem(t.spoolDir, Number(liveBytes));
    if (problem) return { ok: false, reason: problem };
  }
  return { ok: true, clientBin: 'psql', summary: `pg_restore ${toolMajor}, server ${serverMajor}, as ${user}${how}`, target: { ...t, jobs } };
}

/** The spool holds the dump; the live database's size is the best estimate there is before it arrives. */
function spoolProblem(dir: string, neededBytes: number): string | null {
  try { fs.accessSync(dir, fs.constants.W_OK); } catch { return `--spool-dir ${dir} is not a writable directory`; }
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  if (free < neededBytes) return `--spool-dir ${dir} has ${(free / 2 ** 30).toFixed(1)} GiB free; the live database is ${(neededBytes / 2 ** 30).toFixed(1)} GiB`;
  return null;
}

async function mariadb(t: RestoreTarget): Promise<PreflightResult> {
  let bin = '';
  for (const candidate of ['mariadb', 'mysql']) {
    if ((await runTool(candidate, ['--version'])).code === 0) { bin = candidate; break; }
  }
  if (!bin) return { ok: false, reason: 'neither mariadb nor mysql (the client) is installed' };
  try {
    const [[version, user]] = await new MyClient(bin, t.conn).query('connecting', 'SELECT VERSION(), CURRENT_USER()');
    return { ok: true, clientBin: bin, summary: `${bin} client, server ${version}, as ${user}`, target: t };
  } catch (err) {
    return { ok: false, reason: `cannot reach MariaDB: ${(err as Error).message}` };
  }
}

export function preflight(t: RestoreTarget): Promise<PreflightResult> {
  return t.kind === 'postgres' ? postgres(t) : mariadb(t);
}
