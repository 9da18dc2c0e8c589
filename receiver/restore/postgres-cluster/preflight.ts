// Before joining: is the live cluster one we can swap? Its data directory (a real directory,
// PG_VERSION), who may touch it, room for a second copy beside it, the stop/start commands,
// and that the check query reaches this very cluster now (so that after the swap a silence
// means the copy did not come up, not a wrong port).
import * as fs from 'fs';
import * as path from 'path';
import type { PreflightResult } from '../preset';
import type { RestoreTarget } from '../target';
import { runTool } from '../tool';
import { commandProblem } from '../server-swap/command-check';
import { failedDir, freeBytes, gib, previousDir, rollbackMarkerProblem, stagingDir } from '../server-swap/dirs';
import { clusterFromPath, ctlClusterCommand, debianCluster, debianServerLog } from './commands';
import { CHECK_SQL, checkQuery, readSystemId } from './control';
import type { PgClusterReady, PgClusterSettings } from './options';


/** du -s: bytes the live data directory uses (the estimate of the copy to come). */
async function usedBytes(dir: string): Promise<number | null> {
  const r = await runTool('du', ['-s', '-x', '-B1', dir], undefined, 600_000);
  const n = Number(r.stdout.split(/\s/)[0]);
  return r.code === 0 && Number.isFinite(n) ? n : null;
}

export async function pgClusterPreflight(t: RestoreTarget & PgClusterSettings): Promise<PreflightResult<PgClusterReady>> {
  const no = (reason: string): PreflightResult<PgClusterReady> => ({ ok: false, reason });
  const dir = t.dataDir;
  const marker = rollbackMarkerProblem(dir);
  if (marker) return no(marker);
  const v = await runTool('psql', ['--version']);
  if (v.code !== 0) return no('psql is not usable (install the PostgreSQL client): it runs the check query');
  let st: fs.Stats;
  try { st = fs.lstatSync(dir); } catch { return no(`--data-dir ${dir} does not exist`); }
  if (st.isSymbolicLink()) return no(`--data-dir ${dir} is a symlink: give the directory it points to (${fs.realpathSync(dir)}); the copy must be extracted beside the real one`);
  if (!st.isDirectory()) return no(`--data-dir ${dir} is not a directory`);
  let liveMajor: string;
  try { liveMajor = fs.readFileSync(path.join(dir, 'PG_VERSION'), 'utf8').trim(); } catch (err) {
    return no(`--data-dir ${dir} is not a PostgreSQL data directory or not readable (PG_VERSION: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const me = process.getuid?.() ?? 0;
  if (me !== 0 && me !== st.uid) return no(`--data-dir ${dir} belongs to uid ${st.uid}: run dbcast receive as that user (the cluster's owner) or as root`);
  const parent = path.dirname(dir);
  try { fs.accessSync(parent, fs.constants.W_OK | fs.constants.X_OK); } catch { return no(`${parent} is not writable by this user: the data directory cannot be renamed (it needs ${path.basename(dir)}.incoming and .previous beside it)`); }
  let liveSystemId: string;
  try { liveSystemId = readSystemId(dir); } catch (err) { return no(`cannot read ${dir}/global/pg_control: ${(err as Error).message}`); }
  for (const other of [previousDir(dir), stagingDir(dir)]) {
    try { const o = fs.lstatSync(other); if (o.isSymbolicLink() || !o.isDirectory()) return no(`${other} exists and is not a directory: move it away`); } catch { /* absent: fine */ }
  }

  const cluster = debianCluster(dir);
  const stopCommand = t.stopCommand ?? (cluster ? ctlClusterCommand(cluster, 'stop') : undefined);
  const startCommand = t.startCommand ?? (cluster ? ctlClusterCommand(cluster, 'start') : undefined);
  if (!stopCommand || !startCommand) return no(`no --stop-command/--start-command given, and ${dir} is not a Debian cluster (/var/lib/postgresql/VERSION/CLUSTER or data_directory in /etc/postgresql): give both`);
  for (const [flag, cmd] of [['stop-command', stopCommand], ['start-command', startCommand]] as const) {
    const p = await commandProblem(cmd); if (p) return no(`--${flag} ${JSON.stringify(cmd)}: ${p}`);
  }
  if (cluster && clusterFromPath(dir) && cluster.version !== liveMajor.split('.')[0] && cluster.version !== liveMajor) {
    return no(`${dir} is in Debian's ${cluster.version}/ tree but its PG_VERSION says ${liveMajor}`);
  }
  const serverLog = t.serverLog ?? (cluster && fs.existsSync(debianServerLog(cluster)) ? debianServerLog(cluster) : '');
  if (t.primaryPassfile) { try { fs.accessSync(t.primaryPassfile, fs.constants.R_OK); } catch { return no(`--primary-passfile ${t.primaryPassfile} is not readable`); } }

  const warnings: string[] = [];
  const used = await usedBytes(dir);
  const free = freeBytes(parent);
  if (used === null) warnings.push(`could not measure ${dir} (du failed): the room for the copy is not checked`);
  else if (free < used) return no(`${parent} has ${gib(free)} free; a second copy of ${dir} needs about ${gib(used)}: ${gib(used - free)} missing${fs.existsSync(previousDir(dir)) ? ` (${previousDir(dir)} from the last swap is removed only after the new copy is verified)` : ''}`);

  const ready: PgClusterReady = {
    ...t, stopCommand, startCommand, serverLog, liveMajor, liveSystemId,
    owner: { uid: st.uid, gid: st.gid }, actAsOwner: me === 0 && st.uid !== 0,
    staging: stagingDir(dir), previous: previousDir(dir), failed: failedDir(dir),
  };
  const running = fs.existsSync(path.join(dir, 'postmaster.pid'));
  if (running) {
    const q = await checkQuery(ready, CHECK_SQL);
    if (!q.ok) return no(`the check query does not reach the live cluster (give --db-host/--db-port/--db-user for it): ${q.error}`);
    const id = q.stdout.split('|')[1];
    if (id !== liveSystemId) return no(`the server that answers the check query (system identifier ${id}) is not the cluster in ${dir} (${liveSystemId}): give --db-host/--db-port for it`);
  } else warnings.push(`the live cluster on ${dir} is not running: the check query could not be tried; it will be started on the new data`);
  const mode = t.asStandby ? 'then a standby of its primary' : 'then promoted to its own timeline';
  return {
    ok: true, ready, warnings,
    summary: `PostgreSQL ${liveMajor} cluster ${dir} (uid ${st.uid}), ${used === null ? '' : `${gib(free)} free for a copy of about ${gib(used)}, `}stop: ${stopCommand}, start: ${startCommand}, ${mode}`,
  };
}
