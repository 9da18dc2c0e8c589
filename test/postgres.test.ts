// Database end to end, PostgreSQL: a real server (initdb into a temp dir), a realistic
// database dumped by `dbcast send --command "pg_dump -Fc ..."` to receivers restoring with
// `--restore postgres`, contents compared with the source; and the failure cases, each of
// which must leave the live database as it was. CI installs PostgreSQL (.ci/run); elsewhere a
// missing server skips with a message.
import t, { type Test } from 'tap';
import { execSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, sleep, tempDir } from './helpers/dbcast';
import { lyingSend } from './helpers/lying-sender';
import { PG_SCHEMA } from './db/fixtures';
import { postgresMissing, startPostgres, type Server } from './db/servers';


const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.42.8'];

/** Everything a restore must reproduce: per-table row count and content hash, views, sequences, indexes, constraints. */
function fingerprint(pg: Server, db: string): string {
  const tables = pg.sql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").trim().split('\n').filter(Boolean);
  const parts = tables.map((tb) => `${tb}:${pg.sql(db, `SELECT count(*) || '/' || md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM "${tb}" t`).trim()}`);
  parts.push(pg.sql(db, "SELECT string_agg(viewname || '=' || md5(definition), ',' ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'").trim());
  parts.push(pg.sql(db, "SELECT string_agg(sequencename || '=' || last_value, ',' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'public'").trim());
  parts.push(pg.sql(db, "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'").trim());
  parts.push(pg.sql(db, "SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace").trim());
  return parts.join('\n');
}

const databases = (pg: Server): string[] => pg.sql('postgres', 'SELECT datname FROM pg_database ORDER BY 1').trim().split('\n');

function run(): void {
  let pg: Server;
  let sourcePrint = '';
  const conn = (): string[] => ['--db-host', pg.host, '--db-port', String(pg.port), '--db-user', pg.user];
  const dump = (db: string): string => `pg_dump -h ${pg.host} -p ${pg.port} -U ${pg.user} -Fc ${db}`;
  const receive = (port: number, job: string, name: string, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', name, '--idle-timeout-sec', '3', '--restore', 'postgres', '--database', db, ...conn(), ...extra], { timeoutMs: 600_000 });

  t.before(() => {
    pg = startPostgres();
    pg.sql('postgres', 'CREATE DATABASE src');
    pg.sql('src', PG_SCHEMA);
    sourcePrint = fingerprint(pg, 'src');
    // An existing live database, a new one, and one with a staging database left by a crash.
    for (const db of ['dst1', 'dst3', 'dst3__incoming']) pg.sql('postgres', `CREATE DATABASE ${db}`);
    pg.sql('dst1', 'CREATE TABLE old_marker (x int); INSERT INTO old_marker VALUES (1)');
    pg.sql('dst3__incoming', 'CREATE TABLE half_restored (x int)');
  });
  t.teardown(() => pg?.stop());

  t.test('pg_dump to 3 receivers: staging, swap, contents equal the source', async (t) => {
    const dir = tempDir(t);
    fs.chmodSync(dir, 0o1777);
    // A client connected to the live database: the swap must end its session, not wait for it.
    const holder = spawn('psql', ['-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', 'dst1', '-c', 'SELECT pg_sleep(600)'], { stdio: 'ignore' });
    t.teardown(() => holder.kill());
    const rx = [
      receive(9501, 'pg', 'r1', 'dst1', ['--output', dir, '--spool-dir', dir]), // --jobs auto: spools
      receive(9501, 'pg', 'r2', 'dst2', ['--jobs', '2', '--spool-dir', dir]),
      receive(9501, 'pg', 'r3', 'dst3', ['--restore-while-receiving']),
    ];
    await listening(rx); // after the restore preflight: each database was checked
    const s = await dbcast(['send', ...GROUP, '--port', '9501', '--job', 'pg', '--min-receivers', '3', '--max-wait-sec', '60',
      '--command', dump('src'), '--report', path.join(dir, 'r.json')], { timeoutMs: 600_000 }).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    t.ok(report.totalBytes >= 100e6, `the dump is ${(report.totalBytes / 1e6).toFixed(0)} MB`);
    t.same(report.receivers.map((x: { restore: string }) => x.restore), ['swapped', 'swapped', 'swapped'], 'report: every restore swapped');
    for (const db of ['dst1', 'dst2', 'dst3']) t.equal(fingerprint(pg, db), sourcePrint, `${db} equals the source`);
    t.equal(pg.sql('dst1__previous', 'SELECT x FROM old_marker').trim(), '1', 'the old dst1 is kept as dst1__previous');
    t.match(report.receivers.find((x: { name: string }) => x.name === 'r3').detail, /dropped a leftover dst3__incoming/, 'the leftover staging database was dropped and reported');
    t.notOk(databases(pg).some((d) => d.endsWith('__incoming')), 'no staging database left');
    const archives = fs.readdirSync(dir).filter((f) => f.endsWith('.dump'));
    t.equal(archives.length, 1, 'r1 archived the dump');
    t.notOk(fs.readdirSync(dir).some((f) => f.endsWith('.spool') || f.endsWith('.partial')), 'no spool or partial file left');
    t.match(fs.readFileSync(path.join(dir, `${archives[0]}.sha256`), 'utf8'), new RegExp(`^${report.sha256}  ${archives[0]}\\n$`), '.sha256 beside the archive');
  });

  const untouched = (t: Test, dbs: string[]): void => {
    for (const db of dbs) t.equal(fingerprint(pg, db), sourcePrint, `${db} untouched`);
    t.notOk(databases(pg).some((d) => d.endsWith('__incoming')), 'no staging database left');
  };

  t.test('the dump command fails halfway: receivers exit 5, live databases untouched', async (t) => {
    const rx = [receive(9502, 'fail', 'f1', 'dst1'), receive(9502, 'fail', 'f2', 'dst2', ['--restore-while-receiving'])];
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--port', '9502', '--job', 'fail', '--min-receivers', '2', '--max-wait-sec', '60',
      '--command', `${dump('src')} | head -c 30000000; echo 'pg_dump: error: connection to server lost' >&2; exit 1`]).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 5, 'sender exit 5', { stderr: s.stderr });
    rs.forEach((r) => t.equal(r.code, 5, 'receiver exit 5', { stderr: r.stderr }));
    untouched(t, ['dst1', 'dst2']);
  });

  t.test('the sender is killed halfway: receivers time out (8), live databases untouched', async (t) => {
    const rx = [receive(9503, 'kill', 'k1', 'dst1'), receive(9503, 'kill', 'k2', 'dst2', ['--restore-while-receiving'])];
    await listening(rx);
    const send = dbcast(['send', ...GROUP, '--port', '9503', '--job', 'kill', '--min-receivers', '2', '--max-wait-sec', '60', '--max-rate-mbps', '200', '--command', dump('src')]);
    await send.stderrMatch(/starting transfer/);
    await sleep(1500); // part of the scenario: the restores are under way when the sender dies
    send.child.kill('SIGKILL');
    const rs = await Promise.all(rx.map((r) => r.done));
    rs.forEach((r) => t.equal(r.code, 8, 'receiver exit 8', { stderr: r.stderr }));
    untouched(t, ['dst1', 'dst2']);
  });

  t.test('pg_restore fails (an owner role missing here): exit 7, kept-old, live untouched', async (t) => {
    const dir = tempDir(t);
    pg.sql('postgres', 'CREATE ROLE ghost; CREATE DATABASE ghostly');
    pg.sql('ghostly', 'CREATE TABLE haunted (x int); INSERT INTO haunted VALUES (1); ALTER TABLE haunted OWNER TO ghost');
    const file = path.join(dir, 'ghostly.dump');
    execSync(`${dump('ghostly')} > ${file}`);
    pg.sql('postgres', 'DROP DATABASE ghostly; DROP ROLE ghost');
    const rx = [receive(9504, 'bad', 'b1', 'dst1'), receive(9504, 'bad', 'b2', 'dst2', ['--restore-while-receiving'])];
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--port', '9504', '--job', 'bad', '--min-receivers', '2', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json')], { stdinFile: file }).done;
    const rs = await Promise.all(rx.map((x) => x.done));
    t.equal(s.code, 4, 'sender exit 4', { stderr: s.stderr });
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    for (const [i, r] of rs.entries()) {
      t.equal(r.code, 7, 'receiver exit 7 (spooled and streamed)', { stderr: r.stderr });
      const x = report.receivers.find((y: { name: string }) => y.name === `b${i + 1}`);
      t.equal(x.restore, 'kept-old');
      t.match(x.detail, /role "ghost" does not exist/, 'pg_restore\'s own message reaches the sender\'s report');
      t.equal(x.sinkExitCode, 1, 'pg_restore\'s exit status');
    }
    untouched(t, ['dst1', 'dst2']);
  });

  t.test('a SHA-256 mismatch: exit 6, the restore is killed, live untouched', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'src.dump');
    execSync(`${dump('src')} > ${file}`);
    const rx = [receive(9505, 'liar', 'l1', 'dst1'), receive(9505, 'liar', 'l2', 'dst2', ['--restore-while-receiving'])];
    await listening(rx);
    const report = await lyingSend({ group: '239.255.42.8', port: 9505, job: 'liar', minReceivers: 2, input: fs.readFileSync(file) });
    const rs = await Promise.all(rx.map((x) => x.done));
    rs.forEach((r) => t.equal(r.code, 6, 'receiver exit 6 (spooled and streamed)', { stderr: r.stderr }));
    t.same(report.receivers.map((x: { code: string }) => x.code), ['hash-mismatch', 'hash-mismatch']);
    untouched(t, ['dst1', 'dst2']);
  });

  t.test('preflight fails (no server on that port): reported at join, exit 9', async (t) => {
    const dir = tempDir(t);
    const bad = dbcast(['receive', ...GROUP, '--port', '9506', '--job', 'pre', '--name', 'nodb', '--restore', 'postgres', '--database', 'dst1',
      '--db-host', pg.host, '--db-port', '1', '--db-user', pg.user]);
    const good = receive(9506, 'pre', 'ok', 'dst2');
    await listening([bad, good]); // the failed preflight is said before it listens
    const s = await dbcast(['send', ...GROUP, '--port', '9506', '--job', 'pre', '--min-receivers', '1', '--min-wait-sec', '2', '--max-wait-sec', '60',
      '--command', dump('src'), '--report', path.join(dir, 'r.json')]).done;
    const [rb, rg] = await Promise.all([bad.done, good.done]);
    t.equal(rb.code, 9, 'the receiver that cannot restore exits 9', { stderr: rb.stderr });
    t.equal(rg.code, 0, 'the other one restores', { stderr: rg.stderr });
    t.equal(s.code, 4, 'sender exit 4: one receiver failed', { stderr: s.stderr });
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    const nodb = report.receivers.find((x: { name: string }) => x.name === 'nodb');
    t.same([nodb.code, nodb.bytes], ['preflight-failed', 0], 'the sender\'s report shows the preflight failure, and nothing was sent to it');
    t.match(nodb.detail, /cannot reach PostgreSQL/);
    t.equal(fingerprint(pg, 'dst2'), sourcePrint);
  });
}

const missing = postgresMissing();
if (missing) {
  if (process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${missing}`);
  else t.plan(0, `PostgreSQL tests skipped: ${missing}`);
} else {
  run();
}
