// Before joining: is --data-dir a MariaDB data directory we may replace, is there room for a
// second copy beside it, are mbstream, mariabackup and the stop/start commands there, and does
// the server that answers on the check connection run on that directory?
import * as fs from 'fs';
import * as path from 'path';
import type { PreflightResult } from '../preset';
import { spoolDirProblem } from '../spool';
import type { RestoreTarget } from '../target';
import { runTool } from '../tool';
import { mariabackupVersion, releaseSeries } from './backup-info';
import { existingTreeBytes, notMariadbDatadir, previousDir, stagingDir, treeBytes } from './datadir';
import { readReplicaPassword, type MariadbServerSettings } from './options';
import { processesIn, ServerCheck } from './server';
import { commandProblem } from '../server-swap/command-check';
import { freeBytes, gib, rollbackMarkerProblem } from '../server-swap/dirs';

export type MariadbServerTarget = RestoreTarget & MariadbServerSettings;

export interface MariadbServerReady {
  target: MariadbServerTarget;
  clientBin: string;
  /** mariabackup's version: the backup must come from the same release series. */
  toolVersion: string;
  /** The live server's version, when it answered at preflight. */
  liveVersion: string | null;
  /** The live data directory's owner and mode, given to the staged copy. */
  owner: { uid: number; gid: number; mode: number };
}

export async function mariadbServerPreflight(t: MariadbServerTarget): Promise<PreflightResult<MariadbServerReady>> {
  const warnings: string[] = [];
  const dir = t.dataDir;
  const marker = rollbackMarkerProblem(dir);
  if (marker) return { ok: false, reason: marker };
  let st: fs.Stats;
  try { st = fs.lstatSync(dir); } catch (err) { return { ok: false, reason: `--data-dir ${dir}: ${(err as Error).message}` }; }
  if (!st.isDirectory()) return { ok: false, reason: `--data-dir ${dir} is not a directory (a symlink is refused: the swap renames it)` };
  const notData = notMariadbDatadir(new Set(fs.readdirSync(dir)));
  if (notData) return { ok: false, reason: `--data-dir ${dir} is not a MariaDB data directory: ${notData}` };
  const parent = path.dirname(dir);
  if (fs.statSync(parent).dev !== st.dev) return { ok: false, reason: `--data-dir ${dir} is a mount point: the copy must be staged beside it on the same filesystem (use a directory below the mount point as the data directory)` };
  try { fs.accessSync(parent, fs.constants.W_OK); } catch { return { ok: false, reason: `${parent} is not writable: the copy is staged there as ${stagingDir(dir)}` }; }
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0 && uid !== st.uid) return { ok: false, reason: `--data-dir ${dir} belongs to uid ${st.uid}: run the receiver as root or as that user` };

  for (const [tool, arg] of [['mbstream', '--help'], ['mariabackup', '--version']]) {
    const r = await runTool(tool, [arg]);
    if (r.code !== 0) return { ok: false, reason: `${tool} is not installed (apt install mariadb-backup)` };
  }
  const v = await runTool('mariabackup', ['--version']);
  const toolVersion = mariabackupVersion(v.stderr + v.stdout);
  if (!toolVersion) return { ok: false, reason: `cannot tell mariabackup's version from: ${(v.stderr + v.stdout).trim().slice(0, 200)}` };
  let clientBin = '';
  for (const c of ['mariadb', 'mysql']) if ((await runTool(c, ['--version'])).code === 0) { clientBin = c; break; }
  if (!clientBin) return { ok: false, reason: 'neither mariadb nor mysql (the client, for the check query) is installed' };
  for (const [flag, cmd] of [['stop-command', t.stopCommand], ['start-command', t.startCommand]] as const) {
    const problem = await commandProblem(cmd);
    if (problem) return { ok: false, reason: `--${flag} ${cmd}: ${problem}` };
  }
  if (t.replica) {
    try { readReplicaPassword(t.replica.passwordFile); } catch (err) { return { ok: false, reason: `--primary-password-file: ${(err as Error).message}` }; }
    if ((fs.statSync(t.replica.passwordFile).mode & 0o077) !== 0) warnings.push(`--primary-password-file ${t.replica.passwordFile} is readable by others (chmod 600 it)`);
  }

  // Room for the copy: about the live directory's size on its filesystem (twice when the spool
  // is there too); a stale staged or previous copy is removed first, so its space counts as free.
  const liveBytes = await treeBytes(dir);
  const spoolHere = !t.whileReceiving && fs.statSync(t.spoolDir).dev === st.dev;
  const needBytes = liveBytes * (spoolHere ? 2 : 1);
  const haveBytes = freeBytes(parent) + await existingTreeBytes(previousDir(dir)) + await existingTreeBytes(stagingDir(dir));
  if (haveBytes < needBytes) {
    return { ok: false, reason: `not enough room beside ${dir}: a copy needs about ${gib(needBytes)}${spoolHere ? ' (the spool in --spool-dir is on the same filesystem: twice the data)' : ''}, ${gib(haveBytes)} is free (counting a stale ${path.basename(previousDir(dir))}); ${gib(needBytes - haveBytes)} missing` };
  }
  if (!t.whileReceiving) {
    const problem = spoolDirProblem(t.spoolDir);
    if (problem) return { ok: false, reason: problem };
    if (!spoolHere && freeBytes(t.spoolDir) < liveBytes) warnings.push(`--spool-dir ${t.spoolDir} has ${gib(freeBytes(t.spoolDir))} free, the stream is about ${gib(liveBytes)}`);
  }

  const check = new ServerCheck(clientBin, t.conn);
  const p = await check.probe();
  let liveVersion: string | null = null;
  if (p.up) {
    const real = fs.realpathSync(dir);
    if (p.datadir !== real && p.datadir !== dir) return { ok: false, reason: `the server on the check connection runs on ${p.datadir}, not --data-dir ${dir} (give --db-host for this server's socket)` };
    liveVersion = p.version;
    if (releaseSeries(p.version) !== releaseSeries(toolVersion)) return { ok: false, reason: `the server here is MariaDB ${p.version}, mariabackup is ${toolVersion}: they must be the same release series` };
  } else {
    const pids = processesIn(dir);
    if (pids.length > 0) return { ok: false, reason: `a server runs in ${dir} (pid ${pids.join(', ')}) but does not answer the check query: ${p.error} (give --db-host/--db-user, or a [client] section in ~/.my.cnf)` };
    warnings.push(`the server does not answer the check query now (${p.error}); it must after the swap`);
  }
  const summary = `data directory ${dir} (${gib(liveBytes)}, MariaDB ${liveVersion ?? 'not running'}), mariabackup ${toolVersion}, ` +
    `${t.whileReceiving ? 'extracting while receiving' : `spooled in ${t.spoolDir}`}${t.replica ? `, then replicating from ${t.replica.host}:${t.replica.port}` : ''}`;
  return { ok: true, ready: { target: t, clientBin, toolVersion, liveVersion, owner: { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 } }, summary, warnings };
}
