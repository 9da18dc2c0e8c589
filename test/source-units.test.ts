// The source presets' units: the identity parsers (psql / mariadb output as the servers print
// it), the dump commands the presets build, the --source flag checks, shell quoting.
import t from 'tap';
import { execFileSync } from 'child_process';
import { parsePostgresIdentity, timelineOfWalFile } from '../sender/source/postgres/identity';
import { parseMariadbIdentity } from '../sender/source/mariadb/identity';
import { postgres } from '../sender/source/postgres';
import { mariadb } from '../sender/source/mariadb';
import { postgresBase } from '../sender/source/postgres-base';
import { mariadbBackup } from '../sender/source/mariadb-backup';
import { parseSourceOptions } from '../sender/source/source-options';
import { findOnPath, shellCommand } from '../sender/source/client';
import { UsageError } from '../runtime/usage-error';

t.test('PostgreSQL identity', async (t) => {
  t.equal(timelineOfWalFile('00000002000000000000000A'), 2);
  t.equal(timelineOfWalFile('0000001A0000000000000003'), 26, 'hex');
  t.equal(timelineOfWalFile('nonsense'), null);
  t.same(parsePostgresIdentity('7714724445078188835|f|000000020000000000000003|1||0/3000BD8\n'),
    { ok: true, identity: { engine: 'postgres', systemId: '7714724445078188835', timeline: 2, inRecovery: false, position: '0/3000BD8' } },
    'a primary: the timeline of the WAL being written, not the checkpoint\'s');
  t.same(parsePostgresIdentity('7714724445078188835|t||1|2|0/5000000\n'),
    { ok: true, identity: { engine: 'postgres', systemId: '7714724445078188835', timeline: 2, inRecovery: true, position: '0/5000000' } },
    'a standby: the newer of restartpoint and WAL receiver');
  t.same(parsePostgresIdentity('7714724445078188835|t||3||\n'),
    { ok: true, identity: { engine: 'postgres', systemId: '7714724445078188835', timeline: 3, inRecovery: true } }, 'no receiver, no position');
  for (const bad of ['', 'x|f|000000020000000000000003|1||0/1', '1|f|zz|1||0/1', '1|f']) {
    t.equal(parsePostgresIdentity(bad).ok, false, `refused: ${JSON.stringify(bad)}`);
  }
});

t.test('MariaDB identity', async (t) => {
  t.same(parseMariadbIdentity('1\tdb1\t0\t\n'), { ok: true, identity: { engine: 'mariadb', systemId: 'server-id:1@db1', inRecovery: false } },
    'no server_uuid (10.11): server id and hostname');
  t.same(parseMariadbIdentity('7\tdb2\t1\t0-7-42\nserver_uuid\t3b1f0c4e-1234-11ef-9a00-0242ac120002\n'),
    { ok: true, identity: { engine: 'mariadb', systemId: '3b1f0c4e-1234-11ef-9a00-0242ac120002', inRecovery: true, position: '0-7-42' } }, 'server_uuid where it exists');
  t.equal(parseMariadbIdentity('').ok, false);
  t.equal(parseMariadbIdentity('x\ty\t0\t\n').ok, false);
});

t.test('the dump commands', async (t) => {
  const target = { kind: 'postgres', database: 'app', conn: { host: '/run/pg', port: 5433, user: 'backup' }, dumpArgs: ['--exclude-table=audit'], allowReplica: false };
  t.same(postgres.dumpArgv('/usr/bin/pg_dump', target), ['/usr/bin/pg_dump', '-Fc', '-w', '-h', '/run/pg', '-p', '5433', '-U', 'backup', '--exclude-table=audit', 'app']);
  t.same(mariadb.dumpArgv('/usr/bin/mariadb-dump', { ...target, kind: 'mariadb', database: 'shop', conn: { host: '/run/mysqld/mysqld.sock' }, dumpArgs: [] }),
    ['/usr/bin/mariadb-dump', '--single-transaction', '--routines', '--triggers', '--events', '--socket=/run/mysqld/mysqld.sock', 'shop']);
  t.same(mariadb.dumpArgv('mariadb-dump', { ...target, kind: 'mariadb', conn: { host: 'db1', port: 3307 }, dumpArgs: [] }).slice(5, 7), ['--host=db1', '--port=3307']);
  const whole = { ...target, database: '', dumpArgs: [] };
  t.same(postgresBase.dumpArgv('pg_basebackup', whole), ['pg_basebackup', '-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '-w', '-h', '/run/pg', '-p', '5433', '-U', 'backup']);
  t.same(mariadbBackup.dumpArgv('mariabackup', { ...whole, conn: { host: '/run/mysqld/mysqld.sock', user: 'root' } }), ['mariabackup', '--backup', '--stream=xbstream', '--socket=/run/mysqld/mysqld.sock', '--user=root']);
});

t.test('shell quoting: /bin/sh gets back the same words', async (t) => {
  const words = ['pg_dump', '-Fc', "it's", 'a b', '$HOME', '`x`', '--x=1;2', ''];
  t.equal(shellCommand(['pg_dump', '-Fc', '-h', '/run/pg', 'app']), 'pg_dump -Fc -h /run/pg app', 'plain words unquoted');
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${shellCommand(words)}`], { encoding: 'utf8' });
  t.same(out.split('\n').slice(0, -1), words);
});

t.test('--source flags', async (t) => {
  const ok = parseSourceOptions({ source: 'postgres', database: 'app', 'db-host': '/run/pg', 'db-port': '5433', 'db-user': 'backup', 'dump-arg': ['--no-owner'], 'allow-replica-source': true });
  t.same(ok, { kind: 'postgres', database: 'app', conn: { host: '/run/pg', port: 5433, user: 'backup' }, dumpArgs: ['--no-owner'], allowReplica: true });
  t.equal(parseSourceOptions({}), undefined, 'no --source');
  const refused: Array<[Record<string, unknown>, string]> = [
    [{ source: 'postgres', database: 'app', command: 'pg_dump app' }, 'source'],
    [{ source: 'oracle', database: 'app' }, 'source'],
    [{ source: 'postgres' }, 'database'],
    [{ source: 'postgres', database: '-app' }, 'database'],
    [{ source: 'postgres', database: 'host=evil' }, 'database'],
    [{ source: 'postgres', database: 'app', 'db-port': '0' }, 'db-port'],
    [{ source: 'postgres', database: 'app', 'db-host': '-oProxyCommand' }, 'db-host'],
    [{ source: 'postgres', database: 'app', 'dump-arg': 'app2' }, 'dump-arg'],
    [{ source: 'postgres', database: 'app', 'dump-arg': '--file=/tmp/x' }, 'dump-arg'],
    [{ source: 'postgres', database: 'app', 'dump-arg': '-Fp' }, 'dump-arg'],
    [{ source: 'postgres', database: 'app', 'dump-arg': '-dother' }, 'dump-arg'],
    [{ source: 'mariadb', database: 'shop', 'dump-arg': '--all-databases' }, 'dump-arg'],
    [{ source: 'mariadb', database: 'shop', 'dump-arg': '--result-file=/tmp/x' }, 'dump-arg'],
    [{ source: 'mariadb', database: 'shop', 'dump-arg': '-hother' }, 'dump-arg'],
    [{ source: 'postgres-base', database: 'app' }, 'database'],
    [{ source: 'postgres-base', 'dump-arg': '-Ftar' }, 'dump-arg'],
    [{ source: 'postgres-base', 'dump-arg': '--gzip' }, 'dump-arg'],
    [{ source: 'postgres-base', 'dump-arg': '-Xstream' }, 'dump-arg'],
    [{ source: 'mariadb-backup', 'dump-arg': '--stream=tar' }, 'dump-arg'],
    [{ source: 'mariadb-backup', 'dump-arg': '--prepare' }, 'dump-arg'],
    [{ database: 'app' }, 'database'],
    [{ 'allow-replica-source': true }, 'allow-replica-source'],
    [{ 'dump-arg': '--no-owner' }, 'dump-arg'],
  ];
  for (const [raw, key] of refused) {
    let err: unknown = null;
    try { parseSourceOptions(raw); } catch (e) { err = e; }
    t.ok(err instanceof UsageError && err.key === key, `refused on --${key}: ${JSON.stringify(raw)}`, { err: String(err) });
  }
  t.same(parseSourceOptions({ source: 'postgres-base', 'db-host': '/run/pg' }), { kind: 'postgres-base', database: '', conn: { host: '/run/pg' }, dumpArgs: [], allowReplica: false }, 'a whole-server preset: no database');
  t.same(parseSourceOptions({ source: 'mariadb-backup', 'dump-arg': '--parallel=4' })?.dumpArgs, ['--parallel=4']);
  t.same(parseSourceOptions({ source: 'mariadb', database: 'shop', 'dump-arg': ['--skip-lock-tables', '--hex-blob'] })?.dumpArgs, ['--skip-lock-tables', '--hex-blob'], 'harmless options pass');
});

t.test('programs on PATH', async (t) => {
  t.equal(findOnPath(['sh'], '/nonexistent:/bin'), '/bin/sh');
  t.equal(findOnPath(['no-such-dump', 'sh'], '/bin'), '/bin/sh', 'the first found of the names, in order');
  t.equal(findOnPath(['sh'], '/nonexistent'), null);
});
