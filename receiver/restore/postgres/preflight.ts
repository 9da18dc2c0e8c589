// Before the first byte: is the restore target usable? A failure is reported to the sender
// at join time (its report shows it) instead of an hour into the transfer.
import * as fs from 'fs';
import * as os from 'os';
import { psql } from './client';
import { MyClient, myConnArgs } from '../mariadb/client';
import { sqlLiteral, stagingName, type RestoreTarget } from '../target';
import { runTool } from '../tool';

export type PreflightResult =
  | { ok: true; clientBin: string; importArgs: string[]; summary: string; warnings: string[]; target: RestoreTarget }
  | { ok: false; reason: string };

/** --jobs auto: measured faster than streaming on both fixtures (bench/results/restore.md). */
export const autoJobs = (): number => Math.max(2, Math.min(4, os.cpus().length));

/** DROP DATABASE ... WITH (FORCE) */
const MIN_POSTGRES_MAJOR = 13;

const major = (version: string): number => Number(/(\d+)(?:\.\d+)?/.exec(version)?.[1] ?? 0);

async function postgres(t: RestoreTarget): Promise<PreflightResult> {
  if (!t.whileReceiving) { const problem = spoolFree(t.spoolDir); if (problem) return { ok: false, reason: problem }; }
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
  return { ok: true, clientBin: 'psql', importArgs: [], summary: `pg_restore ${toolMajor}, server ${serverMajor}, as ${t.restoreUser ?? user}${how}`, warnings, target: { ...t, jobs } };
}

/** The spool holds the dump; the live database's size is the best estimate there is before it arrives. */
function spoolProblem(dir: string, neededBytes: number): string | null {
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
  const warnings: string[] = [];
  const importArgs: string[] = [];
  // --restore-user's password comes from the option group [client_dbcast_restore].
  if (t.restoreUser) importArgs.push(`--defaults-group-suffix=${RESTORE_GROUP_SUFFIX}`);
  // --sandbox (MariaDB clients since 10.5.25/10.6.18/10.11.8): a dump cannot run \! or system,
  // read or write files with source/tee/pager.
  const help = await runTool(bin, ['--help']);
  if (/--sandbox/.test(help.stdout)) importArgs.push('--sandbox');
  else warnings.push(`${bin} has no --sandbox: a dump's \\! and system commands would run as this receiver's user (install a client from MariaDB 10.11.8 or later)`);
  if (!t.whileReceiving) {
    const problem = spoolFree(t.spoolDir);
    if (problem) return { ok: false, reason: problem };
  }
  let summary: string;
  try {
    const [[version, user]] = await new MyClient(bin, t.conn).query('connecting', 'SELECT VERSION(), CURRENT_USER()');
    summary = `${bin} client, server ${version}, as ${user}`;
  } catch (err) {
    return { ok: false, reason: `cannot reach MariaDB: ${(err as Error).message}` };
  }
  if (t.restoreUser) {
    const problem = await restoreUserProblem(bin, importArgs, t);
    if (problem) return { ok: false, reason: problem };
    summary += `, importing as ${t.restoreUser}`;
  } else {
    warnings.push('the import runs as the connecting account: a dump can do whatever it may (give --restore-user for an account whose rights cover only the staging schema)');
  }
  summary += t.whileReceiving ? ', while receiving' : `, spooled in ${t.spoolDir}`;
  if (importArgs.includes('--sandbox')) summary += ', client --sandbox';
  return { ok: true, clientBin: bin, importArgs, summary, warnings, target: t };
}

export const RESTORE_GROUP_SUFFIX = '_dbcast_restore';

/** The import account may touch the staging schema and nothing else (USAGE on *.* is no right). */
async function restoreUserProblem(bin: string, importArgs: string[], t: RestoreTarget): Promise<string | null> {
  const user = t.restoreUser as string;
  const args = [...importArgs.filter((a) => a !== '--sandbox'), '--batch', '--skip-column-names', ...myConnArgs({ ...t.conn, user })];
  const r = await runTool(bin, args, 'SHOW GRANTS FOR CURRENT_USER();');
  if (r.code !== 0) return `--restore-user ${user} cannot connect: ${r.stderr || `status ${r.code}`} (its password goes in the [client${RESTORE_GROUP_SUFFIX}] group of the option file)`;
  // Grants name the schema with _ escaped (app\_\_incoming); the batch output escapes again.
  const staging = stagingName(t.database).replace(/\$/g, '\\$');
  const allowed = new RegExp(`^GRANT USAGE ON \\*\\.\\* TO |^GRANT [A-Z, ]+ ON \`${staging}\`\\.\\* TO `);
  const extra = r.stdout.split('\n').filter((l) => l.trim() !== '' && !allowed.test(l.replace(/\\/g, '')));
  if (extra.length > 0) return `--restore-user ${user} has rights beyond ${stagingName(t.database)}: ${extra.map((l) => l.replace(/ IDENTIFIED BY .*$/, '')).join('; ')}`;
  return null;
}

function spoolFree(dir: string): string | null {
  try { fs.accessSync(dir, fs.constants.W_OK); } catch { return `--spool-dir ${dir} is not a writable directory`; }
  return null;
}

export function preflight(t: RestoreTarget): Promise<PreflightResult> {
  return t.kind === 'postgres' ? postgres(t) : mariadb(t);
}
