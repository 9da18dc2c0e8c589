// Real PostgreSQL and MariaDB servers for the database tests, started the way an operator
// would on a scratch machine: initdb / mariadb-install-db into a temp dir, the server on a
// socket in that dir (no TCP port, nothing reachable from outside), stopped in teardown.
// Outside CI a missing server binary skips the tests with a message; in CI it is a failure
// (.ci/run installs the packages).
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface Server {
  /** Socket directory (PostgreSQL) or socket path (MariaDB): dbcast's --db-host. */
  host: string;
  port?: number;
  user: string;
  /** Run SQL with the server's own client; returns stdout (throws with stderr on failure). */
  sql(db: string, sql: string): string;
  stop(): void;
}

const isRoot = process.getuid?.() === 0;
/** mariadbd on a loaded CI machine: it has this long to answer its first query. */
const MARIADB_START_TIMEOUT_MS = 60_000;

function findPgBin(tool: string): string | null {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', tool))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(base, versions[0], 'bin', tool) : null;
}

/** Why the tests cannot run here, or null. */
export function postgresMissing(): string | null {
  if (!findPgBin('initdb') || !findPgBin('pg_ctl')) return 'PostgreSQL server binaries not found (apt install postgresql)';
  if (isRoot && spawnSync('id', ['postgres']).status !== 0) return 'no postgres user to run the server as';
  return null;
}

export function mariadbMissing(): string | null {
  for (const t of ['mariadb-install-db', 'mariadbd', 'mariadb', 'mariadb-dump']) {
    if (spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t}`]).status !== 0) return `${t} not found (apt install mariadb-server mariadb-client)`;
  }
  return null;
}

function asUser(user: string, cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
}

function scratch(prefix: string, owner: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (isRoot) execFileSync('chown', [owner, dir]);
  return dir;
}

export function startPostgres(): Server {
  const dir = scratch('dbcast-pg-', 'postgres');
  const data = path.join(dir, 'data');
  const [c1, a1] = asUser('postgres', findPgBin('initdb') as string, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale', 'C.UTF-8']);
  execFileSync(c1, a1, { stdio: 'ignore' });
  const port = 5400 + (process.pid % 500);
  const opts = `-k ${dir} -c listen_addresses= -p ${port} -c fsync=off -c max_connections=50`;
  const [c2, a2] = asUser('postgres', findPgBin('pg_ctl') as string, ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', 'start']);
  execFileSync(c2, a2, { stdio: 'ignore' });
  const env = { ...process.env, PGHOST: dir, PGPORT: String(port), PGUSER: 'postgres' };
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const [c3, a3] = asUser('postgres', findPgBin('pg_ctl') as string, ['-D', data, '-m', 'immediate', 'stop']);
    spawnSync(c3, a3, { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Also when the test process dies before its teardown (a throw in before()): no server left behind.
  process.once('exit', stop);
  return {
    host: dir, port, user: 'postgres',
    sql(db, sql) {
      const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', '-'], { input: sql, env, encoding: 'utf8', maxBuffer: 256 << 20 });
      if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
      return r.stdout;
    },
    stop,
  };
}

/** A new data directory, as `mariadb-install-db` makes one (root logs in by socket, no test db). */
function installMariadbData(data: string): void {
  // dbcast's restore and dump clients read the user's option file, as they should for an
  // operator; a password there fails every test login (root has none on these servers).
  const myCnf = path.join(os.homedir(), '.my.cnf');
  if (fs.existsSync(myCnf)) throw new Error(`${myCnf} exists: the MariaDB clients dbcast runs would read it and fail to log in to the test servers; move it aside while the tests run`);
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, ...(isRoot ? ['--user=mysql'] : []),
    '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' });
}

const mariadbdPath = (): string => (fs.existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : 'mariadbd');

/** Runs SQL as root over the server's socket; the caller reads status and stderr. */
function mariadbClient(sock: string): (db: string, sql: string) => SpawnSyncReturns<string> {
  return (db, sql) => spawnSync('mariadb', ['--no-defaults', `--socket=${sock}`, '-u', 'root', '--batch', '--skip-column-names', ...(db ? [db] : [])],
    { input: sql, encoding: 'utf8', maxBuffer: 256 << 20 });
}

/** extraArgs: more mariadbd options for one test's own server (e.g. --log-bin for dump coordinates). */
export async function startMariadb(extraArgs: string[] = []): Promise<Server> {
  const dir = scratch('dbcast-my-', 'mysql');
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  installMariadbData(data);
  const bin = mariadbdPath();
  const server: ChildProcess = spawn(bin, ['--no-defaults', `--datadir=${data}`, `--socket=${sock}`, '--skip-networking',
    `--pid-file=${path.join(dir, 'pid')}`, `--log-error=${path.join(dir, 'err.log')}`, '--innodb-flush-log-at-trx-commit=0',
    '--innodb-buffer-pool-size=256M', ...(isRoot ? ['--user=mysql'] : []), ...extraArgs], { stdio: 'ignore' });
  const client = mariadbClient(sock);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    server.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  // Ready when it answers a query on its socket (it logs "ready for connections" at the same
  // moment); a server that exits or never gets there fails here, with its own log.
  let exited = false;
  server.once('exit', () => { exited = true; });
  const errLog = (): string => { try { return fs.readFileSync(path.join(dir, 'err.log'), 'utf8'); } catch { return '(no err.log)'; } };
  for (const endMs = Date.now() + MARIADB_START_TIMEOUT_MS; !(fs.existsSync(sock) && client('', 'SELECT 1').status === 0);) {
    if (exited || Date.now() > endMs) {
      const why = exited ? 'exited while starting' : `not ready after ${MARIADB_START_TIMEOUT_MS} ms`;
      const log = errLog();
      stop();
      throw new Error(`mariadbd ${why}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: sock, user: 'root',
    sql(db, sql) {
      const r = client(db, sql);
      if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
      return r.stdout;
    },
    stop,
  };
}

/** A PostgreSQL cluster controlled the way an operator controls one: pg_ctl on its data
 *  directory, as its owner (postgres when the tests run as root). For --restore postgres-cluster. */
export interface PgCluster extends Server {
  /** Scratch directory (owned by the cluster's owner): socket, log, and the data directory's siblings. */
  dir: string;
  dataDir: string;
  logFile: string;
  /** Shell commands that stop / start this cluster when run by its owner. */
  stopCommand: string;
  startCommand: string;
  /** The same commands for root to run: through runuser to the owner (as they are, when not root). */
  rootStopCommand: string;
  rootStartCommand: string;
  /** The OS user that owns the cluster. */
  owner: string;
  /** Start it again (after a test left it down). */
  start(): void;
}

export function startPgCluster(port: number, prefix = 'dbcast-pgc-'): PgCluster {
  const owner = isRoot ? 'postgres' : os.userInfo().username;
  const dir = scratch(prefix, owner);
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'log');
  const pgCtl = findPgBin('pg_ctl') as string;
  const [c1, a1] = asUser(owner, findPgBin('initdb') as string, ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale', 'C.UTF-8']);
  execFileSync(c1, a1, { stdio: 'ignore' });
  // max_connections as startPostgres' primary: a copy recovering the primary's WAL needs at least the primary's.
  const opts = `-p ${port} -k ${dir} -c listen_addresses= -c fsync=off -c max_connections=50`;
  const stopCommand = `${pgCtl} -D ${dataDir} -m fast stop`;
  const startCommand = `${pgCtl} -D ${dataDir} -o "${opts}" -l ${logFile} -w -t 120 start`;
  const sh = (cmd: string): void => { const [c, a] = asUser(owner, '/bin/sh', ['-c', cmd]); execFileSync(c, a, { stdio: 'ignore' }); };
  sh(startCommand);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    for (const d of [dataDir, `${dataDir}.previous`, `${dataDir}.failed`, `${dataDir}.incoming`]) {
      if (fs.existsSync(path.join(d, 'postmaster.pid'))) { const [c, a] = asUser(owner, pgCtl, ['-D', d, '-m', 'immediate', 'stop']); spawnSync(c, a, { stdio: 'ignore' }); }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  return {
    host: dir, port, user: 'postgres', dir, dataDir, logFile, owner,
    stopCommand, startCommand,
    rootStopCommand: isRoot ? `runuser -u ${owner} -- ${stopCommand}` : stopCommand,
    rootStartCommand: isRoot ? `runuser -u ${owner} -- ${startCommand}` : startCommand,
    sql: pgSql(dir, port),
    start() { sh(startCommand); },
    stop,
  };
}

// --- Standbys (split-brain and source-preset tests) -------------------------------------

export interface PgStandby extends Server {
  /** pg_promote(): out of recovery, onto a new timeline (waits until it is). */
  promote(): void;
  dataDir: string;
}

/** psql against a server on socket directory `dir`. */
function pgSql(dir: string, port: number): (db: string, sql: string) => string {
  const env = { ...process.env, PGHOST: dir, PGPORT: String(port), PGUSER: 'postgres' };
  return (db, sql) => {
    const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', '-'], { input: sql, env, encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout;
  };
}

/**
 * A streaming standby of `primary`, as an operator makes one: pg_basebackup -R (a copy with the
 * primary's system identifier, streaming from it), started on its own socket directory.
 * `settings`: extra `-c name=value` server settings (e.g. a long checkpoint_timeout).
 */
export function startPostgresStandby(primary: Server, settings: string[] = []): PgStandby {
  const dir = scratch('dbcast-pgsb-', 'postgres');
  const data = path.join(dir, 'data');
  const [c1, a1] = asUser('postgres', findPgBin('pg_basebackup') as string, ['-h', primary.host, '-p', String(primary.port), '-U', primary.user, '-D', data, '-R', '-X', 'stream', '--checkpoint=fast']);
  execFileSync(c1, a1, { stdio: 'ignore' });
  const port = primary.port as number; // its own socket directory: the same port number does not collide
  const opts = [`-k ${dir} -c listen_addresses= -p ${port} -c fsync=off -c max_connections=50`, ...settings.map((s) => `-c ${s}`)].join(' ');
  const pgCtl = findPgBin('pg_ctl') as string;
  const [c2, a2] = asUser('postgres', pgCtl, ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', 'start']);
  execFileSync(c2, a2, { stdio: 'ignore' });
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const [c3, a3] = asUser('postgres', pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
    spawnSync(c3, a3, { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const sql = pgSql(dir, port);
  return {
    host: dir, port, user: 'postgres', dataDir: data, sql, stop,
    promote() {
      const out = sql('postgres', 'SELECT pg_promote(true, 60)').trim();
      if (out !== 't') throw new Error(`pg_promote did not finish: ${out}`);
    },
  };
}

/** Wait until the standby has replayed everything the primary had written when this was called. */
export async function pgCaughtUp(primary: Server, standby: Server, timeoutMs = 120_000): Promise<void> {
  const lsn = primary.sql('postgres', 'SELECT pg_current_wal_lsn()').trim();
  for (const endMs = Date.now() + timeoutMs; ;) {
    if (standby.sql('postgres', `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`).trim() === 't') return;
    if (Date.now() > endMs) throw new Error(`standby did not replay up to ${lsn} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A MariaDB server controlled by its own commands, as an operator's service would be: the
 *  start command is a script that runs mariadbd (as mysql) in the background and returns once
 *  it answers, or 1 when it died; the stop command is mariadb-admin shutdown. Binary log on
 *  (inside the data directory), TCP on 127.0.0.1:port (replication), socket in its directory. */
export interface MariadbInstance extends Server {
  dir: string;
  data: string;
  port: number;
  errLog: string;
  startCommand: string;
  stopCommand: string;
  /** The next start (only that one) passes mariadbd an unknown option, so it exits at once. */
  failNextStart(): void;
}

export async function startMariadbInstance(o: { name: string; serverId: number; port: number }): Promise<MariadbInstance> {
  const dir = scratch(`dbcast-${o.name}-`, 'mysql');
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  const errLog = path.join(dir, 'err.log');
  const failMarker = path.join(dir, 'fail-next-start');
  installMariadbData(data);
  const bin = mariadbdPath();
  const script = path.join(dir, 'start.sh');
  fs.writeFileSync(script, `#!/bin/sh
extra=
if [ -e ${failMarker} ]; then rm -f ${failMarker}; extra=--dbcast-test-no-such-option; fi
${bin} --no-defaults --datadir=${data} --socket=${sock} --port=${o.port} --bind-address=127.0.0.1 \\
  --server-id=${o.serverId} --log-bin=mariadb-bin --pid-file=${dir}/pid --log-error=${errLog} \\
  --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M ${isRoot ? '--user=mysql' : ''} $extra </dev/null >/dev/null 2>&1 &
pid=$!
end=$(( $(date +%s) + ${MARIADB_START_TIMEOUT_MS / 1000} ))
while [ "$(date +%s)" -lt "$end" ]; do
  mariadb-admin --no-defaults --socket=${sock} -u root ping >/dev/null 2>&1 && exit 0
  kill -0 "$pid" 2>/dev/null || { echo "mariadbd exited while starting (see ${errLog})" >&2; exit 1; }
  sleep 0.1
done
echo "mariadbd not ready after ${MARIADB_START_TIMEOUT_MS / 1000} s" >&2
exit 1
`, { mode: 0o755 });
  const stopCommand = `mariadb-admin --no-defaults --socket=${sock} -u root shutdown`;
  const startCommand = script;
  const r = spawnSync('/bin/sh', ['-c', startCommand], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${o.name}: mariadbd did not start: ${r.stderr}\n${fs.existsSync(errLog) ? fs.readFileSync(errLog, 'utf8') : ''}`);
  const client = mariadbClient(sock);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync('/bin/sh', ['-c', stopCommand], { stdio: 'ignore' });
    try { process.kill(Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8').trim()), 'SIGKILL'); } catch { /* already gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  return {
    host: sock, user: 'root', dir, data, port: o.port, errLog, startCommand, stopCommand,
    failNextStart: () => fs.writeFileSync(failMarker, ''),
    sql(db, sql) {
      const q = client(db, sql);
      if (q.status !== 0) throw new Error(`mariadb (${o.name}): ${q.stderr}`);
      return q.stdout;
    },
    stop,
  };
}
