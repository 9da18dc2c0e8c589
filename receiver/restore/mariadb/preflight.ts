// Before the first byte: can we import into this MariaDB server, with which client, as whom?
// A failure is reported to the sender at join time instead of an hour into the transfer.
import type { PreflightResult } from '../preset';
import { spoolDirProblem } from '../spool';
import { stagingName, type RestoreTarget } from '../target';
import { runTool } from '../tool';
import { MyClient, myConnArgs } from './client';
import { autoJobs, type MariadbReady, type MariadbSettings } from './options';

/** --restore-user's password comes from the option group [client_dbcast_restore]. */
export const RESTORE_GROUP_SUFFIX = '_dbcast_restore';

export async function mariadbPreflight(t: RestoreTarget & MariadbSettings): Promise<PreflightResult<MariadbReady>> {
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
    const problem = spoolDirProblem(t.spoolDir);
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
  const jobs = t.whileReceiving ? 1 : t.jobs === 'auto' ? autoJobs() : t.jobs;
  summary += t.whileReceiving ? ', while receiving' : `, spooled in ${t.spoolDir}${jobs > 1 ? `, then ${jobs} tables at once` : ''}`;
  if (importArgs.includes('--sandbox')) summary += ', client --sandbox';
  return { ok: true, ready: { target: { ...t, jobs }, clientBin: bin, importArgs }, summary, warnings };
}

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
