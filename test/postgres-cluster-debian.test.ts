// Database end to end on Debian's own cluster layout, with the preset's defaults: a cluster made
// by pg_createcluster (data in /var/lib/postgresql/V/NAME, configuration in /etc/postgresql/V/NAME,
// log in /var/log/postgresql), a receiver given only --data-dir and --db-port, so the stop/start
// commands (pg_ctlcluster V NAME stop|start) and the server log come from the layout, and it runs
// as the cluster's owner as a service with User=postgres would. Then a copy that will not start:
// rolled back through the same default commands. Needs root (pg_createcluster, a cluster of the
// system's own); CI runs it as root, elsewhere it skips saying why. The cluster is dropped after.
import t from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, LISTENING, dbcast, tempDir } from './helpers/dbcast';
import { postgresMissing, startPostgres, type Server } from './db/servers';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.43.21'];
const isRoot = process.getuid?.() === 0;
const CLUSTER = `dbcast_t${process.pid % 10000}`;
const PORT = 5900 + (process.pid % 90);

function missing(): string | null {
  if (!isRoot) return 'needs root: it creates a Debian cluster with pg_createcluster (CI runs it as root)';
  if (spawnSync('sh', ['-c', 'command -v pg_createcluster && command -v pg_ctlcluster && command -v pg_dropcluster']).status !== 0) return 'pg_createcluster not found (apt install postgresql-common)';
  return postgresMissing();
}

/** The newest major version with server binaries: the one the source (startPostgres) runs too. */
function serverVersion(): string {
  return fs.readdirSync('/usr/lib/postgresql').filter((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/initdb`)).sort((a, b) => Number(b) - Number(a))[0];
}

/** psql on the Debian cluster as its owner (peer authentication, its socket in /var/run/postgresql). */
function debSql(sql: string): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-p', String(PORT), '-d', 'postgres', '-c', sql], { encoding: 'utf8', cwd: '/' });
}

const clusterStatus = (version: string): string => execFileSync('pg_lsclusters', ['-h', version, CLUSTER], { encoding: 'utf8' }).trim();

function run(): void {
  const version = serverVersion();
  const dataDir = `/var/lib/postgresql/${version}/${CLUSTER}`;
  const logFile = `/var/log/postgresql/postgresql-${version}-${CLUSTER}.log`;
  let primary: Server;
  let user: string | null = null;
  const backup = (): string => `pg_basebackup -h ${primary.host} -p ${primary.port} -U postgres -D - -Ft -X fetch --checkpoint=fast`;
  const receive = (port: number, job: string) => dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', 'deb',
    '--idle-timeout-sec', '5', '--restore', 'postgres-cluster', '--data-dir', dataDir, '--db-port', String(PORT), '--check-timeout-sec', '120'],
  { timeoutMs: 600_000, ...(user ? { user } : {}) });
  const send = (port: number, job: string, extra: string[], stdinFile?: string) => dbcast(['send', ...GROUP, '--port', String(port), '--job', job,
    '--min-receivers', '1', '--max-wait-sec', '60', ...extra], { timeoutMs: 600_000, ...(stdinFile ? { stdinFile } : {}) });

  t.before(() => {
    // Only on the loopback socket: listen_addresses empty.
    execFileSync('pg_createcluster', [version, CLUSTER, '-p', String(PORT), '-o', 'listen_addresses=', '-o', 'fsync=off', '--start'], { stdio: 'ignore' });
    debSql("CREATE TABLE marker (tag text); INSERT INTO marker VALUES ('old')");
    primary = startPostgres();
    primary.sql('postgres', "CREATE TABLE marker (tag text); INSERT INTO marker VALUES ('new'); CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g");
    // As the owner, the way a unit with User=postgres runs it, when the owner can reach dist/.
    if (spawnSync('runuser', ['-u', 'postgres', '--', process.execPath, BIN, '--version'], { stdio: 'ignore', cwd: '/' }).status === 0) user = 'postgres';
  });
  t.teardown(() => {
    spawnSync('pg_dropcluster', ['--stop', version, CLUSTER], { stdio: 'ignore' });
    for (const d of [`${dataDir}.previous`, `${dataDir}.incoming`, `${dataDir}.failed`]) fs.rmSync(d, { recursive: true, force: true });
    primary?.stop();
  });

  t.test('defaults from the layout: pg_ctlcluster stops and starts it, /etc configuration kept, .previous kept', async (t) => {
    if (!user) t.comment(`postgres cannot run ${BIN} (a directory on its path is private): the receiver runs as root`);
    const dir = tempDir(t);
    const confBefore = fs.readFileSync(`/etc/postgresql/${version}/${CLUSTER}/postgresql.conf`, 'utf8');
    const rx = receive(9896, 'deb');
    await rx.stderrMatch(LISTENING, 60_000);
    const s = await send(9896, 'deb', ['--command', backup(), '--report', path.join(dir, 'r.json')]).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.match(r.stderr, new RegExp(`pg_ctlcluster ${version} ${CLUSTER} stop`), 'the default stop command, from the layout');
    t.match(r.stderr, new RegExp(`pg_ctlcluster ${version} ${CLUSTER} start`), 'the default start command');
    t.equal(JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')).receivers[0].restore, 'swapped');
    t.equal(debSql('SELECT tag FROM marker').trim(), 'new', 'the Debian cluster answers with the primary\'s data');
    t.equal(debSql('SELECT count(*) FROM big').trim(), '50000');
    t.match(clusterStatus(version), new RegExp(`${CLUSTER}\\s+${PORT}\\s+online`), 'pg_lsclusters: online on its own port');
    t.equal(fs.readFileSync(`/etc/postgresql/${version}/${CLUSTER}/postgresql.conf`, 'utf8'), confBefore, 'its configuration in /etc untouched');
    t.ok(fs.existsSync(path.join(`${dataDir}.previous`, 'PG_VERSION')), '.previous kept');
    t.equal(fs.statSync(dataDir).uid, fs.statSync(`${dataDir}.previous`).uid, 'the new data directory belongs to the cluster\'s owner');
  });

  t.test('a copy that will not start: rolled back through the default commands, kept-old with the Debian log', async (t) => {
    const dir = tempDir(t);
    fs.rmSync(`${dataDir}.previous`, { recursive: true, force: true });
    debSql("DELETE FROM marker; INSERT INTO marker VALUES ('before-bad')");
    const file = path.join(dir, 'base.tar');
    execFileSync('sh', ['-c', `${backup()} > ${file}`]);
    // pg_control damaged: the stream verifies end to end, the server refuses to start on it.
    const buf = fs.readFileSync(file);
    let damaged = false;
    for (let at = 0; at + 512 <= buf.length && !damaged; at += 512) {
      if (buf.toString('utf8', at, at + 100).replace(/\0.*$/s, '') === 'global/pg_control' && buf.toString('latin1', at + 257, at + 262) === 'ustar') {
        for (let i = 16; i < 64; i++) buf[at + 512 + i] ^= 0x5a;
        damaged = true;
      }
    }
    t.ok(damaged, 'the backup has a global/pg_control to damage');
    fs.writeFileSync(file, buf);
    const rx = receive(9897, 'debbad');
    await rx.stderrMatch(LISTENING, 60_000);
    const s = await send(9897, 'debbad', ['--report', path.join(dir, 'r.json')], file).done;
    const r = await rx.done;
    t.equal(r.code, 7, 'receiver exit 7 (the restore failed)', { stderr: r.stderr });
    t.equal(s.code, 4, 'sender exit 4');
    const row = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')).receivers[0];
    t.equal(row.restore, 'kept-old');
    t.match(row.detail, /rolled back/);
    t.match(row.detail, /server log: .*(control file|pg_control)/i, `the last lines of ${logFile}`);
    t.equal(debSql('SELECT tag FROM marker').trim(), 'before-bad', 'the old cluster is back with its old data');
    t.match(clusterStatus(version), new RegExp(`${CLUSTER}\\s+${PORT}\\s+online`), 'pg_lsclusters: online');
  });
}

const why = missing();
if (why && process.env.CI) t.fail(`Debian cluster end to end must run in CI (as root): ${why}`);
else if (why) t.plan(0, `Debian cluster end to end skipped: ${why}`);
else run();
