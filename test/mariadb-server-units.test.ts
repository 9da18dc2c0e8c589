// Unit tier for --restore mariadb-server: what mariabackup writes beside the data (binlog info,
// backup info, versions), the default commands, the data directory checks, the flags, the
// replication statements and status, and the error lines a report quotes.
import t from 'tap';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  describePosition, mariabackupVersion, parseBackupInfo, parseBinlogInfo, releaseSeries, versionProblem,
} from '../receiver/restore/mariadb-server/backup-info';
import { dataDirPathProblem, notMariadbDatadir, previousDir, stagingDir, treeBytes } from '../receiver/restore/mariadb-server/datadir';
import { defaultStartCommand, defaultStopCommand, defaultUnit, readReplicaPassword } from '../receiver/restore/mariadb-server/options';
import { parseSlaveStatus, replicaStatements, replicationProblem } from '../receiver/restore/mariadb-server/replica';
import { errorSummary, processesIn } from '../receiver/restore/mariadb-server/server';
import { runShell } from '../receiver/restore/server-swap/shell-command';
import { commandProblem } from '../receiver/restore/server-swap/command-check';
import { parseReceiveOptions } from '../src/options';
import { tempDir } from './helpers/dbcast';

t.test('binlog info: the 10.11 file (xtrabackup_binlog_info) and its 11.x name read the same', async (t) => {
  t.same(parseBinlogInfo('mariadb-bin.000001\t803\t0-1-3\n'), { file: 'mariadb-bin.000001', position: 803, gtid: '0-1-3' });
  t.same(parseBinlogInfo('bin.000042\t1234\t0-1-77,1-2-5'), { file: 'bin.000042', position: 1234, gtid: '0-1-77,1-2-5' }, 'several domains');
  t.same(parseBinlogInfo('bin.000042\t1234\n'), { file: 'bin.000042', position: 1234, gtid: '' }, 'no GTID');
  t.match(parseBinlogInfo(''), { reason: /empty/ });
  t.match(parseBinlogInfo('bin.000001 x 0-1-3'), { reason: /not "file<TAB>position<TAB>gtid"/ });
  t.match(parseBinlogInfo("bin.000001\t4\t0-1-3'; DROP"), { reason: /not a GTID list/ }, 'a GTID that could not go into SQL is refused');
  t.match(parseBinlogInfo('../x\t4\t0-1-3'), { reason: /not "file/ });
  t.equal(describePosition({ file: 'b.1', position: 4, gtid: '0-1-3' }), 'binlog b.1:4, GTID 0-1-3');
  t.equal(describePosition(null), 'no binlog position in the backup');
});

t.test('backup info and versions: the same release series or a reason', async (t) => {
  const info = parseBackupInfo('uuid = x\ntool_version = 10.11.19-MariaDB\nserver_version = 10.11.19-MariaDB-0+deb12u1-log\nbinlog_pos = filename \'b.1\', position \'803\'\nname = \n');
  t.equal(info.server_version, '10.11.19-MariaDB-0+deb12u1-log');
  t.equal(info.name, '');
  t.equal(releaseSeries('10.11.19-MariaDB-0+deb12u1-log'), '10.11');
  t.equal(releaseSeries('11.4.2-MariaDB'), '11.4');
  t.equal(releaseSeries('garbage'), null);
  t.equal(mariabackupVersion('mariabackup based on MariaDB server 10.11.19-MariaDB debian-linux-gnu (x86_64)'), '10.11.19');
  t.equal(versionProblem(info, '10.11.6', '10.11.19-MariaDB'), null, 'minor releases of one series are fine');
  t.match(versionProblem(info, '11.4.2', null), /this mariabackup is 11\.4\.2/);
  t.match(versionProblem(info, '10.11.6', '10.6.18-MariaDB'), /the server here is 10\.6\.18/);
  t.match(versionProblem({}, '10.11.6', null), /names no server version/);
});

t.test('default commands: the mariadb unit, or mariadb@NAME for /var/lib/mysql-NAME', async (t) => {
  t.equal(defaultUnit('/var/lib/mysql'), 'mariadb');
  t.equal(defaultUnit('/var/lib/mysql-reports'), 'mariadb@reports');
  t.equal(defaultUnit('/srv/db/mysql'), 'mariadb');
  t.equal(defaultStopCommand('mariadb@reports'), 'systemctl stop mariadb@reports');
  t.equal(defaultStartCommand('mariadb'), 'systemctl start mariadb');
  const o = parseReceiveOptions({ restore: 'mariadb-server', 'data-dir': '/var/lib/mysql-reports/' }).restore as unknown as Record<string, unknown>;
  t.equal(o.dataDir, '/var/lib/mysql-reports', 'a trailing slash is dropped');
  t.equal(o.stopCommand, 'systemctl stop mariadb@reports');
  t.equal(o.unit, 'mariadb@reports', 'the unit is known (for its journal) only with the default commands');
  t.equal(o.checkTimeoutMs, 300_000);
  t.equal(o.database, '', 'a whole server: no database');
  const custom = parseReceiveOptions({ restore: 'mariadb-server', 'data-dir': '/d/my', 'stop-command': 'x stop', 'start-command': 'x start', 'check-timeout-sec': '20' }).restore as unknown as Record<string, unknown>;
  t.same([custom.stopCommand, custom.startCommand, custom.unit, custom.checkTimeoutMs], ['x stop', 'x start', undefined, 20_000]);
});

t.test('flags: what the preset refuses, and --as-replica\'s companions', async (t) => {
  const base = { restore: 'mariadb-server', 'data-dir': '/var/lib/mysql' };
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ restore: 'mariadb-server' }, 'data-dir'],
    [{ ...base, 'data-dir': 'var/lib/mysql' }, 'data-dir'],
    [{ ...base, 'data-dir': '/var/lib/../mysql' }, 'data-dir'],
    [{ ...base, 'data-dir': '/' }, 'data-dir'],
    [{ ...base, database: 'app' }, 'database'],
    [{ ...base, 'restore-arg': ['--force'] }, 'restore-arg'],
    [{ ...base, 'restore-user': 'r' }, 'restore-user'],
    [{ ...base, 'check-timeout-sec': '0' }, 'check-timeout-sec'],
    [{ ...base, 'primary-host': 'db1' }, 'primary-host'],
    [{ ...base, 'as-replica': true }, 'primary-host'],
    [{ ...base, 'as-replica': true, 'primary-host': 'db1' }, 'primary-user'],
    [{ ...base, 'as-replica': true, 'primary-host': 'db1', 'primary-user': 'repl' }, 'primary-password-file'],
    [{ ...base, 'as-replica': true, 'primary-host': 'db1;x', 'primary-user': 'repl', 'primary-password-file': '/p' }, 'primary-host'],
    [{ ...base, 'spool-dir': '/var/lib/mysql/tmp' }, 'spool-dir'],
    [{ restore: 'mariadb', database: 'app', 'as-replica': true }, 'as-replica'],
    [{ restore: 'postgres', database: 'app', 'primary-host': 'x' }, 'primary-host'],
  ];
  for (const [raw, key] of bad) t.throws(() => parseReceiveOptions(raw), { code: 'E_USAGE', key }, `${JSON.stringify(raw)} names --${key}`);
  const r = parseReceiveOptions({ ...base, 'as-replica': true, 'primary-host': '10.0.0.5', 'primary-user': 'repl', 'primary-password-file': '/etc/dbcast/repl.pw' }).restore as unknown as Record<string, unknown>;
  t.same(r.replica, { host: '10.0.0.5', port: 3306, user: 'repl', passwordFile: '/etc/dbcast/repl.pw' });
});

t.test('data directory: the form of the path, the contents, the neighbours', async (t) => {
  t.equal(dataDirPathProblem('/var/lib/mysql'), null);
  t.ok(dataDirPathProblem('/var/lib//mysql'));
  t.ok(dataDirPathProblem('relative'));
  t.equal(stagingDir('/var/lib/mysql'), '/var/lib/mysql.incoming');
  t.equal(previousDir('/var/lib/mysql'), '/var/lib/mysql.previous');
  t.equal(notMariadbDatadir(new Set(['mysql', 'ibdata1', 'app'])), null);
  t.equal(notMariadbDatadir(new Set(['mysql', 'aria_log_control'])), null);
  t.match(notMariadbDatadir(new Set(['base', 'global', 'PG_VERSION'])), /no mysql\//);
  t.match(notMariadbDatadir(new Set(['mysql'])), /neither ibdata1 nor aria_log_control/);
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'a'));
  fs.writeFileSync(path.join(dir, 'a', 'f'), Buffer.alloc(64 * 1024, 1));
  t.ok(await treeBytes(dir) >= 64 * 1024, 'a tree\'s size counts the files below');
});

t.test('replication: the statements, the status, the password file', async (t) => {
  const sql = replicaStatements({ host: 'db1', port: 3307, user: 'repl', passwordFile: '' }, "pa'ss", '0-1-3');
  t.match(sql, /SET GLOBAL gtid_slave_pos = '0-1-3';\nCHANGE MASTER TO MASTER_HOST = 'db1', MASTER_PORT = 3307, MASTER_USER = 'repl', MASTER_PASSWORD = 'pa''ss', MASTER_USE_GTID = slave_pos;\nSTART SLAVE;/);
  t.throws(() => replicaStatements({ host: 'db1', port: 1, user: 'r', passwordFile: '' }, 'p', "0-1-3'"), /not a GTID list/);
  const st = parseSlaveStatus('*************************** 1. row ***************************\n  Slave_IO_Running: Connecting\n Slave_SQL_Running: Yes\n    Last_IO_Error: error connecting to master \'repl@db1:3307\'\n   Last_SQL_Error: \n');
  t.match(replicationProblem(st), /Slave_IO_Running=Connecting, Slave_SQL_Running=Yes: error connecting to master/);
  t.equal(replicationProblem({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' }), null);
  t.equal(replicationProblem({}), 'no replication configured');
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'pw'), 'secret\nignored\n');
  t.equal(readReplicaPassword(path.join(dir, 'pw')), 'secret');
  fs.writeFileSync(path.join(dir, 'empty'), '\n');
  t.throws(() => readReplicaPassword(path.join(dir, 'empty')), /empty/);
});

t.test('the report quotes the server\'s [ERROR] lines, without timestamps', async (t) => {
  const log = '2026-12-02 15:23:20 0 [Note] InnoDB: Starting\n2026-12-02 15:23:20 0 [ERROR] /usr/sbin/mariadbd: unknown option \'--x\'\n2026-12-02 15:23:20 0 [ERROR] Aborting\n';
  t.equal(errorSummary(log), "[ERROR] /usr/sbin/mariadbd: unknown option '--x' | [ERROR] Aborting");
  t.equal(errorSummary('2026-12-02 15:23:20 0 [Note] a\n2026-12-02 15:23:20 0 [Note] b\n', 1), '[Note] b', 'no errors: the last lines');
});

t.test('stop/start commands: done when they exit, even if a daemon keeps the pipes; a missing program is found before joining', async (t) => {
  const r = await runShell('sleep 2 & echo started', 10_000);
  t.equal(r.code, 0);
  t.match(r.output, /started/);
  const slow = await runShell('sleep 5', 200);
  t.ok(slow.timedOut, 'a command past its timeout is killed');
  t.equal(await commandProblem('sh -c true'), null);
  t.match(await commandProblem('/nonexistent/ctl start'), /not found/);
  t.match(await commandProblem('   '), /empty/);
});

t.test('a process running in the data directory is found without asking the server', async (t) => {
  const dir = tempDir(t);
  t.same(processesIn(dir), []);
  const child = spawn('sleep', ['30'], { cwd: dir, stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  await new Promise((r) => child.once('spawn', r));
  t.same(processesIn(dir), [child.pid]);
});
