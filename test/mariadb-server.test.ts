// Database end to end, physical MariaDB copies: a primary (binary log, GTID) sends
// `mariabackup --backup --stream=xbstream` through `dbcast send --command` to receivers whose
// own servers already run with older data, with `--restore mariadb-server`: each receiver's
// server must come up on the new data (CHECKSUM TABLE per table), the old data directory kept
// as .previous, and with --as-replica follow the primary. Failures (stream cut, lying END, a
// copy whose server does not start) must leave the old server up on its old data, and the
// report must name the failing step. The servers run under their own start/stop commands
// (test/db/servers.ts startMariadbInstance). CI installs mariadb-server and mariadb-backup.
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, sleep, tempDir } from './helpers/dbcast';
import { lyingSend } from './helpers/lying-sender';
import { mariadbMissing, startMariadbInstance, type MariadbInstance } from './db/servers';

const GROUP_ADDR = '239.255.43.3';
const GROUP = ['--interface', '127.0.0.1', '--group', GROUP_ADDR];
/** A replica has this long to show a row inserted on the primary. */
const REPLICATION_WAIT_MS = 60_000;

function tables(my: MariadbInstance): string[] {
  return my.sql('', "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1").trim().split('\n').filter(Boolean);
}

/** Table names, row counts and CHECKSUM TABLE of every table in `app`. */
function fingerprint(my: MariadbInstance): string {
  return tables(my).map((tb) => `${tb}:${my.sql('app', `SELECT COUNT(*) FROM \`${tb}\``).trim()}:${my.sql('app', `CHECKSUM TABLE \`${tb}\` EXTENDED`).trim().split('\t')[1]}`).join('\n');
}

const backupCommand = (p: MariadbInstance, dir: string): string =>
  `mariabackup --backup --stream=xbstream --user=root --socket=${p.host} --target-dir=${dir}`;

function run(): void {
  let primary: MariadbInstance;
  let rx: MariadbInstance[] = [];
  let primaryPrint = '';
  let dir = '';

  const receive = (port: number, job: string, my: MariadbInstance, extra: string[] = [], startCommand = my.startCommand) =>
    dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', path.basename(my.dir), '--idle-timeout-sec', '5',
      '--restore', 'mariadb-server', '--data-dir', my.data, '--db-host', my.host, '--db-user', 'root',
      '--stop-command', my.stopCommand, '--start-command', startCommand, '--server-log', my.errLog,
      '--check-timeout-sec', '90', '--spool-dir', dir, ...extra], { timeoutMs: 600_000 });
  const send = (port: number, job: string, n: number, args: string[]) =>
    dbcast(['send', ...GROUP, '--port', String(port), '--job', job, '--min-receivers', String(n), '--max-wait-sec', '60', ...args], { timeoutMs: 600_000 }).done;
  const report = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as { receivers: Array<{ restore: string; detail: string; name: string }> };

  t.before(async () => {
    dir = fs.mkdtempSync('/tmp/dbcast-mbk-');
    primary = await startMariadbInstance({ name: 'mbk-primary', serverId: 1, port: 9880 });
    primary.sql('', `CREATE DATABASE app;
      CREATE TABLE app.orders (id INT AUTO_INCREMENT PRIMARY KEY, city VARCHAR(40), amount DECIMAL(10,2), note TEXT, KEY (city)) ENGINE=InnoDB;
      CREATE TABLE app.blobs (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB;
      CREATE TABLE app.legacy (k VARCHAR(10) PRIMARY KEY, v INT) ENGINE=Aria;
      CREATE USER repl@'127.0.0.1' IDENTIFIED BY 'repl-secret'; GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1';`);
    primary.sql('app', `INSERT INTO orders (city, amount, note) SELECT CONCAT('city', seq % 50), seq / 7, REPEAT('Zürich ', seq % 20) FROM seq_1_to_20000;
      INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_200;
      INSERT INTO legacy VALUES ('a', 1), ('b', 2);`);
    primaryPrint = fingerprint(primary);
    rx = [await startMariadbInstance({ name: 'mbk-rx1', serverId: 2, port: 9881 }), await startMariadbInstance({ name: 'mbk-rx2', serverId: 3, port: 9882 })];
    for (const r of rx) r.sql('', 'CREATE DATABASE app; CREATE TABLE app.old_marker (x INT); INSERT INTO app.old_marker VALUES (1); CREATE TABLE app.orders (id INT PRIMARY KEY)');
  });
  t.teardown(() => {
    for (const s of [primary, ...rx]) s?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  t.test('a mariabackup stream to 2 receivers: both servers come up on the new data; --as-replica follows the primary', async (t) => {
    const pw = path.join(dir, 'repl.pw');
    fs.writeFileSync(pw, 'repl-secret\n', { mode: 0o600 });
    const receivers = [
      // One extracts as the stream arrives, the other spools and extracts once verified (the default).
      receive(9870, 'mbk', rx[0], ['--restore-while-receiving']),
      receive(9870, 'mbk', rx[1], ['--as-replica', '--primary-host', '127.0.0.1', '--primary-port', String(primary.port), '--primary-user', 'repl', '--primary-password-file', pw]),
    ];
    await listening(receivers);
    const s = await send(9870, 'mbk', 2, ['--command', backupCommand(primary, dir), '--report', path.join(dir, 'r1.json')]);
    const rs = await Promise.all(receivers.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
    const rep = report(path.join(dir, 'r1.json'));
    t.same(rep.receivers.map((x) => x.restore), ['swapped', 'swapped'], 'report: both swapped');
    for (const x of rep.receivers) t.match(x.detail, /binlog mariadb-bin\.\d+:\d+, GTID \d+-1-\d+/, 'the backup\'s binlog position and GTID are in the report');
    t.match(rep.receivers.map((x) => x.detail).join(' '), /replicating from 127\.0\.0\.1/, 'the replica says it replicates');
    for (const r of rx) {
      t.equal(fingerprint(r), primaryPrint, `${path.basename(r.dir)} answers with the primary's data`);
      t.ok(fs.existsSync(path.join(`${r.data}.previous`, 'app', 'old_marker.frm')), 'the old data directory is kept as .previous');
      t.notOk(fs.existsSync(`${r.data}.incoming`), 'no staging directory left');
      t.equal(fs.statSync(path.join(r.data, 'ibdata1')).uid, fs.statSync(r.dir).uid, 'the copy belongs to the server\'s user');
    }
    // A row inserted on the primary after the swap reaches the replica, not the independent copy.
    primary.sql('app', "INSERT INTO orders (city, amount, note) VALUES ('after-swap', 1, 'replicated')");
    const end = Date.now() + REPLICATION_WAIT_MS;
    while (rx[1].sql('app', "SELECT COUNT(*) FROM orders WHERE city = 'after-swap'").trim() !== '1' && Date.now() < end) await sleep(200);
    t.equal(rx[1].sql('app', "SELECT COUNT(*) FROM orders WHERE city = 'after-swap'").trim(), '1', 'the replica has the later insert');
    t.match(rx[1].sql('', "SHOW STATUS LIKE 'Slave_running'"), /ON/, 'replication runs');
    t.equal(rx[0].sql('app', "SELECT COUNT(*) FROM orders WHERE city = 'after-swap'").trim(), '0', 'the independent copy does not replicate');
    primaryPrint = fingerprint(primary);
  });

  /** The server answers, on the data it had, and nothing is left beside its data directory. */
  const oldServerIntact = (t: Test, my: MariadbInstance, before: string): void => {
    t.equal(fingerprint(my), before, `${path.basename(my.dir)} answers with its old data`);
    t.notOk(fs.existsSync(`${my.data}.incoming`), 'no staging directory left');
  };

  t.test('the stream is cut halfway: receivers exit 5, the old servers keep running untouched', async (t) => {
    const before = rx.map(fingerprint);
    const receivers = rx.map((r) => receive(9871, 'cut', r));
    await listening(receivers);
    const s = await send(9871, 'cut', 2, ['--command', `${backupCommand(primary, dir)} | head -c 4000000; exit 2`]);
    const rs = await Promise.all(receivers.map((r) => r.done));
    t.equal(s.code, 5, 'sender exit 5', { stderr: s.stderr });
    rs.forEach((r) => t.equal(r.code, 5, 'receiver exit 5', { stderr: r.stderr }));
    rx.forEach((r, i) => oldServerIntact(t, r, before[i]));
  });

  t.test('a lying END (hash mismatch): nothing is stopped, the old server answers', async (t) => {
    const before = fingerprint(rx[0]);
    const backup = execFileSync('/bin/sh', ['-c', `${backupCommand(primary, dir)} 2>/dev/null`], { maxBuffer: 1 << 30 });
    const r = receive(9872, 'lie', rx[0]);
    await listening([r]);
    await lyingSend({ group: GROUP_ADDR, port: 9872, job: 'lie', minReceivers: 1, input: backup });
    const res = await r.done;
    t.equal(res.code, 6, 'receiver exit 6 (hash mismatch)', { stderr: res.stderr });
    t.notMatch(res.stderr, /stopping the server/, 'the server was never stopped');
    oldServerIntact(t, rx[0], before);
  });

  t.test('the copy\'s server does not start: rolled back, kept-old, the report names the step and quotes the log', async (t) => {
    const before = fingerprint(rx[0]);
    rx[0].sql('app', "INSERT INTO orders (city, amount, note) VALUES ('only-old', 0, 'local')");
    const withLocal = fingerprint(rx[0]);
    t.not(withLocal, before);
    rx[0].failNextStart();
    const r = receive(9873, 'nostart', rx[0]);
    await listening([r]);
    const s = await send(9873, 'nostart', 1, ['--command', backupCommand(primary, dir), '--report', path.join(dir, 'r4.json')]);
    const res = await r.done;
    t.equal(s.code, 4, 'sender exit 4 (a receiver failed)', { stderr: s.stderr });
    t.equal(res.code, 7, 'receiver exit 7', { stderr: res.stderr });
    const rep = report(path.join(dir, 'r4.json'));
    t.equal(rep.receivers[0].restore, 'kept-old');
    t.match(rep.receivers[0].detail, /step 'start' failed/, 'the report names the step');
    t.match(rep.receivers[0].detail, /dbcast-test-no-such-option/, 'the report quotes the server\'s log');
    t.match(rep.receivers[0].detail, /rolled back/, 'and says it rolled back');
    oldServerIntact(t, rx[0], withLocal);
    t.notOk(fs.existsSync(`${rx[0].data}.previous`) && fs.existsSync(path.join(`${rx[0].data}.previous`, 'app', 'old_marker.frm')), 'the previous copy is back in place, not beside it');
  });

  t.test('neither the copy nor the old server starts: rollback-failed, exit 11, the old data directory back in place', async (t) => {
    const before = fingerprint(rx[1]);
    rx[1].sql('', 'STOP SLAVE; RESET SLAVE ALL');
    const r = receive(9875, 'nostart2', rx[1], [], 'echo "refusing to start" >&2; exit 1');
    await listening([r]);
    const s = await send(9875, 'nostart2', 1, ['--command', backupCommand(primary, dir), '--report', path.join(dir, 'r6.json')]);
    const res = await r.done;
    t.equal(s.code, 4, 'sender exit 4', { stderr: s.stderr });
    t.equal(res.code, 11, 'receiver exit 11 (rollback failed)', { stderr: res.stderr });
    const rep = report(path.join(dir, 'r6.json'));
    t.equal(rep.receivers[0].restore, 'rollback-failed');
    t.match(rep.receivers[0].detail, /step 'start' failed: ROLLBACK FAILED: the old server did not come back/);
    t.match(res.stderr, /refusing to start/, 'the start command\'s output is in the receiver\'s log');
    t.ok(fs.existsSync(`${rx[1].data}.rollback-failed`), 'a marker beside the data directory waits for the operator');
    // The operator's fix: start it by hand; the old data is there.
    const started = spawnSync('/bin/sh', ['-c', rx[1].startCommand], { encoding: 'utf8' });
    t.equal(started.status, 0, 'the old server starts by hand', { stderr: started.stderr });
    oldServerIntact(t, rx[1], before);
    // Until the marker is removed, the next run is refused before it joins.
    const again = receive(9876, 'nostart3', rx[1], ['--start-timeout-sec', '2']);
    const a = await again.done;
    t.not(a.code, 0, 'the next run is refused while the marker is there');
    t.match(a.stderr, /a rollback failed here before and waits for the operator/);
    fs.rmSync(`${rx[1].data}.rollback-failed`);
  });

  t.test('preflight: a directory that is not a MariaDB data directory is refused before joining', async (t) => {
    const bogus = path.join(dir, 'not-a-datadir');
    fs.mkdirSync(bogus);
    const r = dbcast(['receive', ...GROUP, '--port', '9874', '--job', 'pf', '--start-timeout-sec', '2', '--restore', 'mariadb-server', '--data-dir', bogus,
      '--stop-command', 'true', '--start-command', 'true'], { timeoutMs: 60_000 });
    const res = await r.done;
    t.match(res.stderr, /not a MariaDB data directory: it has no mysql\//);
    t.not(res.code, 0);
  });
}


const missing = mariadbMissing() ?? (spawnSync('sh', ['-c', 'command -v mariabackup && command -v mbstream']).status !== 0 ? 'mariabackup/mbstream not found (apt install mariadb-backup)' : null);
if (missing) {
  if (process.env.CI) t.fail(`MariaDB physical-copy tests must run in CI: ${missing}`);
  else t.plan(0, `MariaDB physical-copy tests skipped: ${missing}`);
} else {
  run();
}
