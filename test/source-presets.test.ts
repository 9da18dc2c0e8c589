// `dbcast send --source postgres|mariadb`: the preset's dump reaches a `--restore` receiver
// intact, the server's identity is read before the first byte and announced, reported and
// logged; a standby (PostgreSQL, from pg_basebackup -R) or a read_only MariaDB is refused
// unless --allow-replica-source; a freshly promoted standby reports its new timeline at once.
// Real servers (test/db/servers.ts); CI installs them, elsewhere a missing server skips.
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dbcast, listening, tempDir } from './helpers/dbcast';
import { mariadbMissing, pgCaughtUp, postgresMissing, startMariadb, startPostgres, startPostgresStandby, type PgStandby, type Server } from './db/servers';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.43.11'];
const PORTS = { pg: 9825, pgReplica: 9826, pgRefused: 9827, pgPromoted: 9828, pgMissing: 9829, my: 9830, myRefused: 9831, myReplica: 9832, pgBase: 9833, myBackup: 9834, pgBaseRefused: 9845 };

const PG_SMALL = `
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE audit (id int, note text);
INSERT INTO items SELECT g, 'item ' || g || ' Grüße' FROM generate_series(1, 5000) g;
INSERT INTO audit SELECT g, 'noted' FROM generate_series(1, 100) g;
`;
const MY_SMALL = `
CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL) DEFAULT CHARSET=utf8mb4;
INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_5000;
CREATE TRIGGER items_upper BEFORE INSERT ON items FOR EACH ROW SET NEW.name = UPPER(NEW.name);
`;

interface Identity { engine: string; systemId: string; timeline?: number; inRecovery: boolean; replicaAllowed: boolean; host: string; database: string; position?: string }

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8'));
const conn = (s: Server): string[] => ['--db-host', s.host, ...(s.port ? ['--db-port', String(s.port)] : []), '--db-user', s.user];

/** A sender with no receivers, for what it learns before the first byte: it gives up after 1 s
 *  (exit 3) and its report still carries the identity. */
async function identityOnly(t: Test, port: number, source: string[]): Promise<{ code: number | null; stderr: string; report: Record<string, unknown> }> {
  const dir = tempDir(t);
  const report = path.join(dir, 'r.json');
  const s = await dbcast(['send', ...GROUP, '--port', String(port), '--job', `id${port}`, '--max-wait-sec', '1', '--report', report, ...source]).done;
  return { ...s, report: fs.existsSync(report) ? readJson(report) : {} };
}

function postgresTests(suite: Test): void {
  let pg: Server;
  let standby: PgStandby;
  let systemId = '';

  suite.before(async () => {
    pg = startPostgres();
    pg.sql('postgres', 'CREATE DATABASE app');
    pg.sql('app', PG_SMALL);
    systemId = pg.sql('postgres', 'SELECT system_identifier FROM pg_control_system()').trim();
    standby = startPostgresStandby(pg);
    await pgCaughtUp(pg, standby);
  });
  suite.teardown(() => { standby?.stop(); pg?.stop(); });

  const items = (s: Server, db: string): string => s.sql(db, "SELECT count(*) || '/' || md5(string_agg(id || name, ',' ORDER BY id)) FROM items").trim();
  const receive = (port: number, job: string, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', `r-${db}`, '--idle-timeout-sec', '5', '--restore', 'postgres', '--database', db, ...conn(pg), ...extra], { timeoutMs: 300_000 });

  suite.test('--source postgres: pg_dump -Fc restored by --restore postgres; identity announced, reported, logged', async (t) => {
    const dir = tempDir(t);
    const rx = receive(PORTS.pg, 'pgsrc', 'copy1');
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.pg), '--job', 'pgsrc', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'postgres', '--database', 'app', ...conn(pg), '--dump-arg=--exclude-table=audit'], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(items(pg, 'copy1'), items(pg, 'app'), 'the restored database equals the source');
    t.equal(pg.sql('copy1', "SELECT count(*) FROM pg_tables WHERE tablename = 'audit'").trim(), '0', '--dump-arg reached pg_dump (audit excluded)');
    t.match(s.stderr, /dump command: \S*pg_dump -Fc -w -h \S+ -p \d+ -U postgres --exclude-table=audit app/, 'the dump command is logged');
    const id = readJson(path.join(dir, 'r.json')).source as Identity;
    t.match(id, { engine: 'postgres', systemId, timeline: 1, inRecovery: false, replicaAllowed: false, host: os.hostname(), database: 'app' }, 'report: the identity');
    t.match(id.position, /^[0-9A-F]+\/[0-9A-F]+$/, 'report: the LSN');
    t.match(s.stderr, new RegExp(`source: postgres system ${systemId} timeline 1, primary`), 'sender log: the identity');
    t.match(r.stderr, /source for this job: postgres \S+\/timeline 1 on \S+ database app \(primary\)/, 'receiver log: the announced identity');
  });

  suite.test('a standby as source: refused (exit 2, nothing announced) without --allow-replica-source', async (t) => {
    const s = await identityOnly(t, PORTS.pgRefused, ['--source', 'postgres', '--database', 'app', ...conn(standby)]);
    t.equal(s.code, 2, 'exit 2', { stderr: s.stderr });
    t.match(s.stderr, /--allow-replica-source: the source is a standby \(pg_is_in_recovery\(\) is true\), nothing sent/, 'says why and what to do');
    t.notMatch(s.stderr, /announcing/, 'never announced');
    t.match(s.report, { outcome: 'source-refused', reason: 'source-in-recovery', exitCode: 2, source: { systemId, inRecovery: true, replicaAllowed: false } }, 'the report says so, with the identity');
  });

  suite.test('a standby with --allow-replica-source: sent, announced as a replica, restored', async (t) => {
    const dir = tempDir(t);
    const rx = receive(PORTS.pgReplica, 'pgrep', 'copy2', ['--allow-replica-source']); // the job must allow it too
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.pgReplica), '--job', 'pgrep', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'postgres', '--database', 'app', ...conn(standby), '--allow-replica-source'], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(items(pg, 'copy2'), items(pg, 'app'), 'restored');
    t.match(readJson(path.join(dir, 'r.json')).source, { systemId, timeline: 1, inRecovery: true, replicaAllowed: true }, 'report: a replica, allowed');
    t.match(r.stderr, /\(replica, allowed\)/, 'the receiver logs it as an allowed replica');
    t.match(s.stderr, /the source is a replica: sending it because --allow-replica-source was given/, 'logged as a choice');
  });

  suite.test('a freshly promoted standby reports its new timeline before its checkpoint does', async (t) => {
    // A long checkpoint_timeout spreads the end-of-recovery checkpoint out: pg_control_checkpoint()
    // keeps the old timeline meanwhile.
    const sb = startPostgresStandby(pg, ['checkpoint_timeout=3600', 'max_wal_size=4GB', 'shared_buffers=256MB']);
    t.teardown(() => sb.stop());
    // Dirty buffers on the standby for the checkpoint to write.
    pg.sql('app', 'CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 400000) g');
    await pgCaughtUp(pg, sb);
    sb.promote();
    const s = await identityOnly(t, PORTS.pgPromoted, ['--source', 'postgres', '--database', 'app', ...conn(sb)]);
    const checkpointTimeline = sb.sql('postgres', 'SELECT timeline_id FROM pg_control_checkpoint()').trim();
    t.equal(s.code, 3, 'no receivers: exit 3 after the identity was read', { stderr: s.stderr });
    t.match(s.report.source, { systemId, timeline: 2, inRecovery: false }, 'timeline 2 at once, same system identifier');
    if (checkpointTimeline === '1') t.pass('pg_control_checkpoint() still said timeline 1: the lag this guards against was there');
    else t.comment(`pg_control_checkpoint() had already caught up (timeline ${checkpointTimeline}): the lag was not reproduced this run`);
    pg.sql('app', 'DROP TABLE filler');
  });

  suite.test('--source postgres-base: one pg_basebackup tar with its WAL; --database refused; a second tablespace refused', async (t) => {
    const dir = tempDir(t);
    fs.chmodSync(dir, 0o755);
    const out = path.join(dir, 'base.tar');
    const rx = dbcast(['receive', ...GROUP, '--port', String(PORTS.pgBase), '--job', 'pgbase', '--idle-timeout-sec', '5', '--output', out], { timeoutMs: 300_000 });
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.pgBase), '--job', 'pgbase', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'postgres-base', ...conn(pg)], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.match(s.stderr, /dump command: \S*pg_basebackup -D - -Ft -X fetch --checkpoint=fast -w -h /, 'the command');
    const entries = execFileSync('tar', ['-tf', out], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n');
    t.ok(entries.includes('backup_label') && entries.includes('PG_VERSION'), 'a base backup (backup_label, PG_VERSION)');
    t.ok(entries.some((e) => /^pg_wal\/[0-9A-F]{24}$/.test(e)), 'with its WAL');
    t.match(readJson(path.join(dir, 'r.json')).source, { engine: 'postgres', systemId, database: '', inRecovery: false }, 'identity of the whole server');

    const withDb = await dbcast(['send', ...GROUP, '--port', String(PORTS.pgBaseRefused), '--source', 'postgres-base', '--database', 'app']).done;
    t.equal(withDb.code, 2, '--database with postgres-base: exit 2', { stderr: withDb.stderr });
    t.match(withDb.stderr, /--database: used with a --source that dumps one database/);

    const spc = path.join(dir, 'spc');
    fs.mkdirSync(spc);
    execFileSync('chown', ['postgres', spc]);
    pg.sql('postgres', `CREATE TABLESPACE extra LOCATION '${spc}'`);
    t.teardown(() => pg.sql('postgres', 'DROP TABLESPACE IF EXISTS extra'));
    const two = await identityOnly(t, PORTS.pgBaseRefused, ['--source', 'postgres-base', ...conn(pg)]);
    t.equal(two.code, 2, 'a second tablespace: exit 2', { stderr: two.stderr });
    t.match(two.stderr, /the cluster has tablespaces besides pg_default \(extra\)/, 'names it');
    t.match(two.report, { outcome: 'source-refused', reason: 'source-unsuitable' });
  });

  suite.test('no pg_dump on PATH: refused with a clear message, exit 2', async (t) => {
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.pgMissing), '--source', 'postgres', '--database', 'app', ...conn(pg)], { env: { ...process.env, PATH: '/nonexistent' } }).done;
    t.equal(s.code, 2, 'exit 2', { stderr: s.stderr });
    t.match(s.stderr, /--source postgres needs pg_dump \(the dump\), not found on PATH/, 'names the program');
  });
}

function mariadbTests(suite: Test): void {
  let my: Server;
  suite.before(async () => {
    my = await startMariadb();
    my.sql('', 'CREATE DATABASE shop CHARACTER SET utf8mb4');
    my.sql('shop', MY_SMALL);
  });
  suite.teardown(() => my?.stop());

  const items = (db: string): string => my.sql(db, "SELECT CONCAT(COUNT(*), '/', MD5(GROUP_CONCAT(id, name ORDER BY id))) FROM items").trim();
  const receive = (port: number, job: string, db: string, extra: string[] = []) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', `r-${db}`, '--idle-timeout-sec', '5', '--restore', 'mariadb', '--database', db, ...conn(my), ...extra], { timeoutMs: 300_000 });
  const hostname = (): string => my.sql('', 'SELECT @@hostname').trim();

  suite.test('--source mariadb: mariadb-dump restored by --restore mariadb; identity reported', async (t) => {
    const dir = tempDir(t);
    const rx = receive(PORTS.my, 'mysrc', 'shop_copy');
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.my), '--job', 'mysrc', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'mariadb', '--database', 'shop', ...conn(my)], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(items('shop_copy'), items('shop'), 'restored');
    t.equal(my.sql('shop_copy', "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop_copy'").trim(), '1', 'the trigger came along');
    t.match(s.stderr, /dump command: \S*(mariadb-dump|mysqldump) --single-transaction --routines --triggers --events --socket=\S+ --user=root shop/, 'the dump command is logged');
    // MariaDB 10.11 has no @@server_uuid: server id and hostname stand in.
    const hasUuid = my.sql('', "SHOW GLOBAL VARIABLES LIKE 'server_uuid'").trim() !== '';
    const id = readJson(path.join(dir, 'r.json')).source as Identity;
    t.match(id, { engine: 'mariadb', inRecovery: false, replicaAllowed: false, database: 'shop', host: os.hostname() }, 'report: the identity');
    t.equal(id.systemId, hasUuid ? my.sql('', "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'SERVER_UUID'").trim() : `server-id:1@${hostname()}`, 'systemId');
  });

  const noBackup = spawnSync('sh', ['-c', 'command -v mariabackup && command -v mbstream']).status !== 0 ? 'mariabackup/mbstream not found (apt install mariadb-backup)' : false;
  suite.test('--source mariadb-backup: a mariabackup xbstream of the whole server', { skip: noBackup }, async (t) => {
    const dir = tempDir(t);
    const out = path.join(dir, 'server.xb');
    const rx = dbcast(['receive', ...GROUP, '--port', String(PORTS.myBackup), '--job', 'mybackup', '--idle-timeout-sec', '5', '--output', out], { timeoutMs: 300_000 });
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.myBackup), '--job', 'mybackup', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'mariadb-backup', ...conn(my)], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.match(s.stderr, /dump command: \S*(mariabackup|mariadb-backup) --backup --stream=xbstream --socket=/, 'the command');
    const x = path.join(dir, 'x');
    fs.mkdirSync(x);
    execFileSync('sh', ['-c', `mbstream -x -C ${x} < ${out}`]);
    t.ok(fs.existsSync(path.join(x, 'xtrabackup_checkpoints')) && fs.existsSync(path.join(x, 'shop', 'items.frm')), 'an xbstream backup with the shop database');
    t.match(readJson(path.join(dir, 'r.json')).source, { engine: 'mariadb', database: '', inRecovery: false }, 'identity of the whole server');
  });

  suite.test('read_only=1: refused without --allow-replica-source, sent with it', async (t) => {
    my.sql('', 'SET GLOBAL read_only = 1');
    t.teardown(() => my.sql('', 'SET GLOBAL read_only = 0'));
    const refused = await identityOnly(t, PORTS.myRefused, ['--source', 'mariadb', '--database', 'shop', ...conn(my)]);
    t.equal(refused.code, 2, 'refused: exit 2', { stderr: refused.stderr });
    t.match(refused.stderr, /--allow-replica-source: the source is read-only \(@@read_only = 1\), nothing sent/, 'says why');
    t.notMatch(refused.stderr, /announcing/, 'never announced');
    t.match(refused.report, { outcome: 'source-refused', reason: 'source-in-recovery', source: { engine: 'mariadb', inRecovery: true } }, 'report');

    const dir = tempDir(t);
    const rx = receive(PORTS.myReplica, 'myrep', 'shop_ro', ['--allow-replica-source']);
    await listening([rx]);
    const s = await dbcast(['send', ...GROUP, '--port', String(PORTS.myReplica), '--job', 'myrep', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json'),
      '--source', 'mariadb', '--database', 'shop', ...conn(my), '--allow-replica-source'], { timeoutMs: 300_000 }).done;
    const r = await rx.done;
    t.equal(s.code, 0, 'allowed: sender exit 0', { stderr: s.stderr });
    t.equal(r.code, 0, 'receiver exit 0', { stderr: r.stderr });
    t.equal(items('shop_ro'), items('shop'), 'restored');
    t.match(readJson(path.join(dir, 'r.json')).source, { engine: 'mariadb', inRecovery: true, replicaAllowed: true }, 'report: a replica, allowed');
  });
}

const pgMissing = postgresMissing();
const myMissing = mariadbMissing();
if (pgMissing && process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${pgMissing}`);
if (myMissing && process.env.CI) t.fail(`MariaDB tests must run in CI: ${myMissing}`);
if (!pgMissing) t.test('postgres', async (suite) => postgresTests(suite)); else t.comment(`PostgreSQL source tests skipped: ${pgMissing}`);
if (!myMissing) t.test('mariadb', async (suite) => mariadbTests(suite)); else t.comment(`MariaDB source tests skipped: ${myMissing}`);
