// Issue 17 end to end on real servers: the sender's source presets (--source) announce the
// server's identity, the receivers' guard (--source-state) refuses what is not the job's source.
// - PostgreSQL: a primary and a copy of it (pg_basebackup -R, then promoted: the same system
//   identifier, timeline 2) both send the job at once: receivers refuse both, nothing restored,
//   both senders exit non-zero naming the split brain. The old primary alone, after the new one
//   was accepted: an older timeline, refused. A different cluster: refused until
//   `dbcast accept-source`, then restored.
// - MariaDB: a read_only source refused by a job that does not allow replicas; a changed server
//   identity refused until accepted.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, tempDir, type Run } from './helpers/dbcast';
import { mariadbMissing, pgCaughtUp, postgresMissing, startMariadb, startPostgres, startPostgresStandby, type PgStandby, type Server } from './db/servers';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.43.11'];
const PORTS = { rival: 9835, first: 9836, older: 9837, changed: 9838, accepted: 9839, myFirst: 9840, myRo: 9841, myRoOk: 9842, myChanged: 9843, myAccepted: 9844 };
/** dbcast receive: exit code when its source guard refused the sender (runtime/exit-codes.ts). */
const EXIT_SOURCE_REFUSED = 12;

const PG_APP = `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3000) g;`;

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));
const conn = (s: Server): string[] => ['--db-host', s.host, ...(s.port ? ['--db-port', String(s.port)] : []), '--db-user', s.user];

interface Sent { code: number | null; stderr: string; report: { abortReason?: string; receivers?: Array<{ name: string; code: string; detail: string }>; source?: Record<string, unknown> } }

let sends = 0;
function send(dir: string, port: number, job: string, source: string[], extra: string[] = []): { run: Run; result: Promise<Sent> } {
  const report = path.join(dir, `send-${++sends}.json`);
  const run = dbcast(['send', ...GROUP, '--port', String(port), '--job', job, '--max-wait-sec', '60', '--report', report, ...source, ...extra], { timeoutMs: 300_000 });
  return { run, result: run.done.then((s) => ({ ...s, report: fs.existsSync(report) ? readJson(report) as Sent['report'] : {} })) };
}

function postgresTests(suite: Test): void {
  let pg: Server; // the old primary: keeps running, and its cron keeps dumping
  let promoted: PgStandby; // its copy, promoted: the same system identifier, timeline 2
  let other: Server; // an unrelated cluster: another system identifier
  let dir: string;
  const state = (): string => path.join(dir, 'source-state.json');

  suite.before(async () => {
    dir = fs.mkdtempSync('/tmp/dbcast-sb-');
    fs.chmodSync(dir, 0o755);
    pg = startPostgres();
    pg.sql('postgres', 'CREATE DATABASE app');
    pg.sql('app', PG_APP);
    promoted = startPostgresStandby(pg);
    await pgCaughtUp(pg, promoted);
    promoted.promote();
    // From here the two diverge: each takes writes of its own.
    pg.sql('app', "INSERT INTO items VALUES (100001, 'written on the old primary after the failover')");
    promoted.sql('app', "INSERT INTO items VALUES (100002, 'written on the new primary')");
    other = startPostgres();
    other.sql('postgres', 'CREATE DATABASE app');
    other.sql('app', `${PG_APP} INSERT INTO items VALUES (100003, 'another cluster');`);
  });
  suite.teardown(() => { promoted?.stop(); pg?.stop(); other?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const items = (s: Server, db: string): string => s.sql(db, "SELECT count(*) || '/' || md5(string_agg(id || name, ',' ORDER BY id)) FROM items").trim();
  const databases = (): string[] => pg.sql('postgres', 'SELECT datname FROM pg_database').trim().split('\n');
  // The receivers restore into the old primary's server (any server would do).
  const receive = (port: number, job: string, name: string, db: string, stateFile: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', name, '--idle-timeout-sec', '5', '--restore', 'postgres', '--database', db,
      ...conn(pg), '--source-state', stateFile, ...extra], { timeoutMs: 300_000 });
  const source = (s: Server): string[] => ['--source', 'postgres', '--database', 'app', ...conn(s)];

  suite.test('old and new primary (same system identifier) send the job at once: both refused, nothing restored', async (t) => {
    const d = tempDir(t);
    const rx = [receive(PORTS.rival, 'nightly', 'r1', 'rival1', path.join(d, 's1.json')), receive(PORTS.rival, 'nightly', 'r2', 'rival2', path.join(d, 's2.json'))];
    await listening(rx);
    // Both wait for receivers a while: they announce within one window, as two crons at 02:00 do.
    const senders = [send(d, PORTS.rival, 'nightly', source(pg), ['--min-receivers', '2', '--min-wait-sec', '3']),
      send(d, PORTS.rival, 'nightly', source(promoted), ['--min-receivers', '2', '--min-wait-sec', '3'])];
    const [s1, s2] = await Promise.all(senders.map((s) => s.result));
    const rs = await Promise.all(rx.map((r) => r.done));
    for (const [i, s] of [s1, s2].entries()) {
      t.not(s.code, 0, `sender ${i + 1} exits non-zero (${s.code})`, { stderr: s.stderr });
      t.match(s.stderr, /split.brain/i, `sender ${i + 1} names the split brain`);
      t.match(s.report.source, { engine: 'postgres', inRecovery: false }, `sender ${i + 1} reported its identity`);
    }
    t.equal(s1.report.source?.systemId, s2.report.source?.systemId, 'the same system identifier');
    t.same([s1.report.source?.timeline, s2.report.source?.timeline], [1, 2], 'old primary on timeline 1, the promoted copy on 2');
    rs.forEach((r, i) => {
      t.equal(r.code, EXIT_SOURCE_REFUSED, `receiver ${i + 1} exit ${EXIT_SOURCE_REFUSED}`, { stderr: r.stderr });
      t.match(r.stderr, /split.brain/i, `receiver ${i + 1} says split brain`);
    });
    t.notOk(databases().some((db) => db.startsWith('rival')), 'nothing restored (no rival1/rival2, no staging database)');
    t.notOk(fs.existsSync(path.join(d, 's1.json')) && readJson(path.join(d, 's1.json')).accepted, 'no source accepted');
  });

  suite.test('the new primary is accepted; the old primary alone later: older timeline, refused', async (t) => {
    const d = tempDir(t);
    const rx = receive(PORTS.first, 'daily', 'r', 'copy', state());
    await listening([rx]);
    const s = await send(d, PORTS.first, 'daily', source(promoted)).result;
    const r = await rx.done;
    t.equal(s.code, 0, 'the new primary: sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(items(pg, 'copy'), items(promoted, 'app'), 'restored the new primary\'s data');
    t.match(readJson(state()).accepted, { engine: 'postgres', timeline: 2 }, 'the job remembers timeline 2');
    t.match(r.stderr, /first source for this job: postgres .*timeline 2/, 'the receiver logs the announced identity');

    const rx2 = receive(PORTS.older, 'daily', 'r', 'copy', state());
    await listening([rx2]);
    const old = await send(d, PORTS.older, 'daily', source(pg)).result;
    const r2 = await rx2.done;
    t.not(old.code, 0, `the old primary's sender fails (${old.code})`, { stderr: old.stderr });
    t.match(old.report.receivers, [{ code: 'stale-source' }], 'its report row says stale-source');
    t.equal(r2.code, EXIT_SOURCE_REFUSED, `receiver exit ${EXIT_SOURCE_REFUSED}`, { stderr: r2.stderr });
    t.match(r2.stderr, /stale-source.*timeline 1, older than the 2/, 'the receiver says why');
    t.equal(items(pg, 'copy'), items(promoted, 'app'), 'the restored copy is untouched');
  });

  suite.test('another cluster (changed system identifier): refused until accept-source, then restored', async (t) => {
    const d = tempDir(t);
    const rx = receive(PORTS.changed, 'daily', 'r', 'copy', state());
    await listening([rx]);
    const s = await send(d, PORTS.changed, 'daily', source(other)).result;
    const r = await rx.done;
    t.not(s.code, 0, `sender fails (${s.code})`, { stderr: s.stderr });
    t.match(s.report.receivers, [{ code: 'split-brain' }], 'its report row says split-brain');
    t.equal(r.code, EXIT_SOURCE_REFUSED, 'receiver refuses', { stderr: r.stderr });
    t.match(r.stderr, /is not the one this job accepted/, 'the receiver says why');
    t.equal(items(pg, 'copy'), items(promoted, 'app'), 'untouched');

    const a = await dbcast(['accept-source', 'daily', '--source-state', state()]).done;
    t.equal(a.code, 0, 'dbcast accept-source exit 0', { stderr: a.stderr });
    const rx2 = receive(PORTS.accepted, 'daily', 'r', 'copy', state());
    await listening([rx2]);
    const s2 = await send(d, PORTS.accepted, 'daily', source(other)).result;
    const r2 = await rx2.done;
    t.equal(s2.code, 0, 'accepted: sender exit 0', { stderr: s2.stderr });
    t.equal(r2.code, 0, 'receiver exit 0', { stderr: r2.stderr });
    t.equal(items(pg, 'copy'), items(other, 'app'), 'restored the new source');
    t.equal((readJson(state()).accepted as { systemId: string }).systemId, s2.report.source?.systemId, 'the job now remembers the new system identifier');
  });
}

function mariadbTests(suite: Test): void {
  let my: Server;
  let dir: string;
  const state = (): string => path.join(dir, 'my-state.json');
  suite.before(async () => {
    dir = fs.mkdtempSync('/tmp/dbcast-sbm-');
    my = await startMariadb();
    my.sql('', 'CREATE DATABASE shop');
    my.sql('shop', 'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO items SELECT seq, CONCAT(\'item \', seq) FROM seq_1_to_2000;');
  });
  suite.teardown(() => { my?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const receive = (port: number, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', 'shop', '--name', 'm', '--idle-timeout-sec', '5', '--restore', 'mariadb', '--database', db,
      ...conn(my), '--source-state', state(), ...extra], { timeoutMs: 300_000 });
  const src = (): string[] => ['--source', 'mariadb', '--database', 'shop', ...conn(my)];
  const count = (db: string): string => my.sql(db, 'SELECT COUNT(*) FROM items').trim();
  const hostname = (): string => my.sql('', 'SELECT @@hostname').trim();

  suite.test('read_only source: a job that does not allow replicas refuses it; one that does restores it', async (t) => {
    const d = tempDir(t);
    const rx0 = receive(PORTS.myFirst, 'shop_copy');
    await listening([rx0]);
    const s0 = await send(d, PORTS.myFirst, 'shop', src()).result;
    t.equal(s0.code, 0, 'the read-write server first: sender exit 0', { stderr: s0.stderr });
    t.equal((await rx0.done).code, 0, 'accepted');
    my.sql('shop', 'DELETE FROM items WHERE id > 1000');
    my.sql('', 'SET GLOBAL read_only = 1');
    t.teardown(() => my.sql('', 'SET GLOBAL read_only = 0'));

    const rx = receive(PORTS.myRo, 'shop_copy');
    await listening([rx]);
    const s = await send(d, PORTS.myRo, 'shop', src(), ['--allow-replica-source']).result;
    const r = await rx.done;
    t.not(s.code, 0, `sender fails (${s.code})`, { stderr: s.stderr });
    t.match(s.report.receivers, [{ code: 'stale-source' }], 'report row: stale-source');
    t.equal(r.code, EXIT_SOURCE_REFUSED, 'receiver refuses', { stderr: r.stderr });
    t.match(r.stderr, /this job does not allow a replica source/, 'says why');
    t.equal(count('shop_copy'), '2000', 'untouched');

    const rx2 = receive(PORTS.myRoOk, 'shop_copy', ['--allow-replica-source']);
    await listening([rx2]);
    const s2 = await send(d, PORTS.myRoOk, 'shop', src(), ['--allow-replica-source']).result;
    t.equal(s2.code, 0, 'both sides allow it: sender exit 0', { stderr: s2.stderr });
    t.equal((await rx2.done).code, 0, 'receiver exit 0');
    t.equal(count('shop_copy'), '1000', 'the replica\'s copy restored');
  });

  suite.test('a changed server identity: refused until accept-source --system-id', async (t) => {
    const d = tempDir(t);
    t.match(readJson(state()).accepted, { systemId: `server-id:1@${hostname()}` }, 'the job remembers server-id 1');
    my.sql('', 'SET GLOBAL server_id = 7');
    t.teardown(() => my.sql('', 'SET GLOBAL server_id = 1'));
    my.sql('shop', 'DELETE FROM items WHERE id > 500');
    const rx = receive(PORTS.myChanged, 'shop_copy');
    await listening([rx]);
    const s = await send(d, PORTS.myChanged, 'shop', src()).result;
    const r = await rx.done;
    t.not(s.code, 0, `sender fails (${s.code})`, { stderr: s.stderr });
    t.match(s.report.receivers, [{ code: 'split-brain' }], 'report row: split-brain');
    t.equal(r.code, EXIT_SOURCE_REFUSED, 'receiver refuses', { stderr: r.stderr });
    t.equal(count('shop_copy'), '1000', 'untouched');

    const a = await dbcast(['accept-source', 'shop', '--source-state', state(), '--system-id', `server-id:7@${hostname()}`]).done;
    t.equal(a.code, 0, 'accept-source exit 0', { stderr: a.stderr });
    const rx2 = receive(PORTS.myAccepted, 'shop_copy');
    await listening([rx2]);
    const s2 = await send(d, PORTS.myAccepted, 'shop', src()).result;
    t.equal(s2.code, 0, 'accepted: sender exit 0', { stderr: s2.stderr });
    t.equal((await rx2.done).code, 0, 'receiver exit 0');
    t.equal(count('shop_copy'), '500', 'restored from the new identity');
    t.match(readJson(state()).accepted, { systemId: `server-id:7@${hostname()}` }, 'remembered');
  });
}

const pgMissing = postgresMissing();
const myMissing = mariadbMissing();
if (pgMissing && process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${pgMissing}`);
if (myMissing && process.env.CI) t.fail(`MariaDB tests must run in CI: ${myMissing}`);
if (!pgMissing) t.test('postgres', async (suite) => postgresTests(suite)); else t.comment(`PostgreSQL split-brain tests skipped: ${pgMissing}`);
if (!myMissing) t.test('mariadb', async (suite) => mariadbTests(suite)); else t.comment(`MariaDB split-brain tests skipped: ${myMissing}`);
