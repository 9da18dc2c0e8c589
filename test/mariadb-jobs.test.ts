// Database end to end for --restore mariadb --jobs: a real server with its binary log on (so
// mariadb-dump --master-data can say where it was), seven tables with foreign keys between
// them, views on views, a trigger, routines, an event, non-ASCII names and text, blobs;
// `dbcast send --command "mariadb-dump ..."` to `dbcast receive --restore mariadb --jobs 3`,
// compared with the source by CHECKSUM TABLE. A table whose rows fail must fail the restore,
// name the table, and leave the live schema as it was. CI installs MariaDB.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, tempDir } from './helpers/dbcast';
import { MY_JOBS_SCHEMA } from './db/fixtures';
import { mariadbMissing, startMariadb, type Server } from './db/servers';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.43.4'];

const list = (my: Server, db: string, sql: string): string[] => my.sql(db, sql).trim().split('\n').filter(Boolean);

function fingerprint(my: Server, db: string): string {
  const tables = list(my, db, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`);
  const q = (n: string): string => `\`${n.replace(/`/g, '``')}\``;
  const parts = tables.map((tb) => `${tb}:${my.sql(db, `SELECT COUNT(*) FROM ${q(tb)}`).trim()}:${my.sql(db, `CHECKSUM TABLE ${q(tb)} EXTENDED`).trim().split('\t')[1]}`);
  parts.push(my.sql(db, 'SELECT * FROM city_totals ORDER BY city').trim());
  parts.push(my.sql(db, 'SELECT * FROM sku_totals ORDER BY sku LIMIT 5').trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(ROUTINE_NAME ORDER BY ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, `SELECT GROUP_CONCAT(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '${db}'`).trim());
  parts.push(my.sql(db, 'SELECT with_tax(10)').trim());
  return parts.join('\n');
}

const schemas = (my: Server): string[] => list(my, '', 'SHOW DATABASES');

function run(): void {
  let my: Server;
  let sourcePrint = '';
  const dumpArgs = (extra: string): string => `mariadb-dump --no-defaults --socket=${my.host} -u root --single-transaction --routines --triggers --events ${extra} src`;
  const receive = (port: number, job: string, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', 'r1', '--idle-timeout-sec', '3',
      '--restore', 'mariadb', '--database', db, '--db-host', my.host, '--db-user', my.user, '--jobs', '3', ...extra], { timeoutMs: 600_000 });
  const send = (port: number, job: string, command: string, report: string) =>
    dbcast(['send', ...GROUP, '--port', String(port), '--job', job, '--max-wait-sec', '60', '--command', command, '--report', report], { timeoutMs: 600_000 }).done;
  const detail = (report: string): string => JSON.parse(fs.readFileSync(report, 'utf8')).receivers[0].detail;

  t.before(async () => {
    my = await startMariadb(['--log-bin=binlog', '--server-id=1']);
    my.sql('', 'CREATE DATABASE src CHARACTER SET utf8mb4');
    my.sql('src', MY_JOBS_SCHEMA);
    sourcePrint = fingerprint(my, 'src');
    // The live schema the restores replace: something else, with a trigger on a table of the same name.
    my.sql('', 'CREATE DATABASE dst');
    my.sql('dst', 'CREATE TABLE old_marker (x INT); INSERT INTO old_marker VALUES (1); CREATE TABLE orders (id INT); CREATE TRIGGER old_trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.id = NEW.id');
  });
  t.teardown(() => my?.stop());

  t.test('mariadb-dump --master-data=2 to --jobs 3: seven tables at once, contents equal, coordinates reported', async (t) => {
    const dir = tempDir(t);
    const [binlog, position] = my.sql('', 'SHOW MASTER STATUS').trim().split('\t');
    const rx = receive(9890, 'jobs', 'dst', ['--log-level', 'debug', '--report', path.join(dir, 'rx.json')]);
    await listening([rx]);
    const s = await send(9890, 'jobs', dumpArgs('--master-data=2'), path.join(dir, 'r.json'));
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.match(r.stderr, /importing 7 tables into dst__incoming, 3 at once/, 'split into seven table parts');
    t.match(r.stderr, /imported `order lines` ä`/, 'the odd name is one part');
    t.equal(fingerprint(my, 'dst'), sourcePrint, 'dst equals the source: every table by CHECKSUM TABLE, views on views, trigger, routines, event');
    t.equal(my.sql('dst__previous', 'SELECT x FROM old_marker').trim(), '1', 'the old tables are kept in dst__previous');
    const d = detail(path.join(dir, 'r.json'));
    t.match(d, /7 tables imported 3 at once/);
    t.match(d, `coordinates (the dumped server's own, --master-data): binlog ${binlog}:${position} (commented)`, 'the binlog position of the dump, in the sender\'s report');
    t.match(JSON.parse(fs.readFileSync(path.join(dir, 'rx.json'), 'utf8')).sinkDetail, `binlog ${binlog}:${position} (commented)`, 'and in the receiver\'s own report (so in its run record)');
    my.sql('dst', 'CALL add_order(1, 5.00)');
    t.equal(my.sql('dst', 'SELECT COUNT(*) FROM audit').trim(), '1', 'the trigger fires in the live schema');
    my.sql('dst', 'DELETE FROM audit; DELETE FROM orders ORDER BY id DESC LIMIT 1');
    t.notOk(schemas(my).some((x) => x.endsWith('__incoming')), 'no staging schema left');
  });

  t.test('one table\'s rows fail (duplicate key): the restore fails, names the table, dst stays as it was', async (t) => {
    const dir = tempDir(t);
    const before = fingerprint(my, 'dst');
    const dump = path.join(dir, 'dup.sql');
    const text = fs.readFileSync(await dumpTo(dump), 'utf8');
    const broken = text.replace('INSERT INTO `products` VALUES\n(1,', "INSERT INTO `products` VALUES\n(2,'SKU-X','dup'),\n(1,");
    t.not(broken, text, 'the crafted row went in');
    fs.writeFileSync(dump, broken);
    const rx = receive(9891, 'dup', 'dst');
    await listening([rx]);
    const s = await send(9891, 'dup', `cat ${dump}`, path.join(dir, 'r.json'));
    const r = await rx.done;
    t.equal(s.code, 4, 'sender exit 4 (a receiver failed)', { stderr: s.stderr });
    t.equal(r.code, 7, 'receiver exit 7 (restore failed)', { stderr: r.stderr });
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    t.equal(report.receivers[0].restore, 'kept-old');
    // With the binary log on, the server reports the failed multi-row INSERT as 1180 (the
    // statement's rollback) instead of 1062; either is the client's own message.
    t.match(report.receivers[0].detail, /table `products`: mariadb exited with status 1: ERROR (1062 \(23000\) at line \d+: Duplicate entry '2' for key 'PRIMARY'|1180 \(HY000\) at line \d+: Got error 1 .* during COMMIT)/, 'the failing table and the client\'s message');
    t.equal(fingerprint(my, 'dst'), before, 'dst unchanged and answering');
    t.notOk(schemas(my).some((x) => x.endsWith('__incoming')), 'no staging schema left');
  });

  t.test('--master-data=1 --gtid with --strip-replication: reported as active and stripped, this server not repointed', async (t) => {
    const dir = tempDir(t);
    const rx = receive(9892, 'strip', 'dst2', ['--strip-replication']);
    await listening([rx]);
    const s = await send(9892, 'strip', dumpArgs('--master-data=1 --gtid'), path.join(dir, 'r.json'));
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.match(detail(path.join(dir, 'r.json')), /coordinates \(the dumped server's own, --master-data\): MASTER_USE_GTID=slave_pos \(active, stripped\), binlog binlog\.\d+:\d+ \(commented\), GTID [0-9-]+ \(active, stripped\)/);
    t.equal(my.sql('', 'SHOW SLAVE STATUS').trim(), '', 'no replication configured here');
    t.equal(fingerprint(my, 'dst2'), sourcePrint, 'dst2 equals the source');
  });

  /** A plain dump of src into `file`. */
  async function dumpTo(file: string): Promise<string> {
    const { execSync } = await import('child_process');
    execSync(`${dumpArgs('')} > ${file}`);
    return file;
  }
}

const missing = mariadbMissing();
if (missing) {
  if (process.env.CI) t.fail(`MariaDB tests must run in CI: ${missing}`);
  else t.plan(0, `MariaDB tests skipped: ${missing}`);
} else {
  run();
}
