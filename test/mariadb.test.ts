// Database end to end, MariaDB: a real server (mariadb-install-db + mariadbd on a socket in a
// temp dir), a database with foreign keys, indexes, a view on a view, a trigger, a procedure,
// a function, non-ASCII text and blobs, sent by `dbcast send --command "mariadb-dump ..."` to
// receivers restoring with `--restore mariadb`; compared with the source by CHECKSUM TABLE and
// row counts. Failure cases must leave the live schema as it was. CI installs MariaDB.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, tempDir } from './helpers/dbcast';
import { MY_SCHEMA } from './db/fixtures';
import { mariadbMissing, startMariadb, type Server } from './db/servers';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.42.9'];

function fingerprint(my: Server, db: string): string {
  const tables = my.sql(db, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`).trim().split('\n').filter(Boolean);
  const parts = tables.map((tb) => `${tb}:${my.sql(db, `SELECT COUNT(*) FROM \`${tb}\``).trim()}:${my.sql(db, `CHECKSUM TABLE \`${tb}\` EXTENDED`).trim().split('\t')[1]}`);
  parts.push(my.sql(db, 'SELECT * FROM city_totals ORDER BY city').trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(ROUTINE_NAME ORDER BY ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, 'SELECT with_tax(10)').trim());
  return parts.join('\n');
}

const schemas = (my: Server): string[] => my.sql('', 'SHOW DATABASES').trim().split('\n');

function run(): void {
  let my: Server;
  let sourcePrint = '';
  const dumpCmd = (db: string, extra = ''): string => `mariadb-dump --no-defaults --socket=${my.host} -u root --single-transaction --routines --triggers ${extra} ${db}`;
  const receive = (port: number, job: string, name: string, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', name, '--idle-timeout-sec', '3',
      '--restore', 'mariadb', '--database', db, '--db-host', my.host, '--db-user', my.user, ...extra], { timeoutMs: 600_000 });

  t.before(async () => {
    my = await startMariadb();
    my.sql('', 'CREATE DATABASE src CHARACTER SET utf8mb4');
    my.sql('src', MY_SCHEMA);
    sourcePrint = fingerprint(my, 'src');
    my.sql('', 'CREATE DATABASE dst1; CREATE DATABASE dst3__incoming');
    my.sql('dst1', 'CREATE TABLE old_marker (x INT); INSERT INTO old_marker VALUES (1); CREATE TABLE orders (id INT); CREATE TRIGGER old_trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.id = NEW.id');
    my.sql('dst3__incoming', 'CREATE TABLE half_restored (x INT)');
  });
  t.teardown(() => my?.stop());

  t.test('mariadb-dump to 3 receivers: staging, swap, contents equal the source', async (t) => {
    const dir = tempDir(t);
    const rx = [receive(9601, 'my', 'm1', 'dst1'), receive(9601, 'my', 'm2', 'dst2'), receive(9601, 'my', 'm3', 'dst3')];
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--port', '9601', '--job', 'my', '--min-receivers', '3', '--max-wait-sec', '60',
      '--command', dumpCmd('src'), '--report', path.join(dir, 'r.json')], { timeoutMs: 600_000 }).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    t.same(report.receivers.map((x: { restore: string }) => x.restore), ['swapped', 'swapped', 'swapped'], 'report: every restore swapped');
    for (const db of ['dst1', 'dst2', 'dst3']) t.equal(fingerprint(my, db), sourcePrint, `${db} equals the source`);
    t.equal(my.sql('dst1__previous', 'SELECT x FROM old_marker').trim(), '1', 'the old dst1 tables are kept in dst1__previous');
    t.notOk(schemas(my).includes('dst1') && my.sql('dst1', "SHOW TABLES LIKE 'old_marker'").trim() !== '', 'the old tables left dst1');
    // The trigger works on the swapped-in table.
    my.sql('dst2', 'CALL add_order(1, 5.00)');
    t.equal(my.sql('dst2', 'SELECT COUNT(*) FROM audit').trim(), '1', 'the trigger fires in the live schema');
    my.sql('dst2', 'DELETE FROM audit; DELETE FROM orders ORDER BY id DESC LIMIT 1');
    t.notOk(schemas(my).some((d) => d.endsWith('__incoming')), 'no staging schema left');
  });

  const untouched = (t: Test, dbs: string[]): void => {
    for (const db of dbs) t.equal(fingerprint(my, db), sourcePrint, `${db} untouched`);
    t.notOk(schemas(my).some((d) => d.endsWith('__incoming')), 'no staging schema left');
  };

  t.test('the dump command fails halfway: receivers exit 5, live schemas untouched', async (t) => {
    const rx = [receive(9602, 'fail', 'f1', 'dst1'), receive(9602, 'fail', 'f2', 'dst2')];
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--port', '9602', '--job', 'fail', '--min-receivers', '2', '--max-wait-sec', '60',
      '--command', `${dumpCmd('src')} | head -c 8000000; exit 2`]).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 5, 'sender exit 5', { stderr: s.stderr });
    rs.forEach((r) => t.equal(r.code, 5, 'receiver exit 5', { stderr: r.stderr }));
    untouched(t, ['dst1', 'dst2']);
  });

  t.test('bad SQL in the stream: exit 7, kept-old, live untouched', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'bad.sql');
    fs.writeFileSync(file, 'CREATE TABLE fine (x INT);\nINSERT INTO fine VALUES (1);\nTHIS IS NOT SQL;\n');
    const rx = receive(9603, 'bad', 'b1', 'dst1');
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', '9603', '--job', 'bad', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json')], { stdinFile: file }).done;
    const r = await rx.done;
    t.equal(s.code, 4, 'sender exit 4', { stderr: s.stderr });
    t.equal(r.code, 7, 'receiver exit 7', { stderr: r.stderr });
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    t.equal(report.receivers[0].restore, 'kept-old');
    t.match(report.receivers[0].detail, /ERROR 1064/, 'the client\'s own message reaches the sender\'s report');
    untouched(t, ['dst1']);
  });

  t.test('a dump made with --databases and --add-drop-database cannot touch the live schema', async (t) => {
    const dir = tempDir(t);
    const rx = receive(9604, 'dbs', 'd1', 'dst2');
    await listening([rx]);
    my.sql('', 'CREATE DATABASE bystander; CREATE TABLE bystander.keep (x INT)');
    const s = await dbcast(['send', ...GROUP, '--port', '9604', '--job', 'dbs', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--command', `mariadb-dump --no-defaults --socket=${my.host} -u root --routines --triggers --add-drop-database --databases src`]).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(fingerprint(my, 'dst2'), sourcePrint, 'restored into dst2, not into src');
    t.equal(fingerprint(my, 'src'), sourcePrint, 'src itself untouched');
    t.ok(schemas(my).includes('bystander'));
  });
}

const missing = mariadbMissing();
if (missing) {
  if (process.env.CI) t.fail(`MariaDB tests must run in CI: ${missing}`);
  else t.plan(0, `MariaDB tests skipped: ${missing}`);
} else {
  run();
}
