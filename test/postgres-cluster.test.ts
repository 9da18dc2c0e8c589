// Database end to end, physical: a primary with data sends a base backup
// (`dbcast send --command "pg_basebackup -D - -Ft -X fetch --checkpoint=fast"`) to receivers whose
// clusters already run with older data (`--restore postgres-cluster`, pg_ctl as the stop/start
// commands). One receiver runs as the cluster's owner (postgres), the other as root with runuser
// in its commands: both ways an operator runs it. Then the failures, each of which must leave the
// old server up with its old data: a stream cut halfway, a lying END, a copy that will not start,
// and a rollback that fails too (exit 11). CI installs PostgreSQL; elsewhere a missing server skips.
import t, { type Test } from 'tap';
import { execSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, LISTENING, dbcast, tempDir, type Run } from './helpers/dbcast';
import { lyingSend } from './helpers/lying-sender';
import { postgresMissing, startPgCluster, startPostgres, type PgCluster, type Server } from './db/servers';

const GROUP_ADDR = '239.255.43.2';
const GROUP = ['--interface', '127.0.0.1', '--group', GROUP_ADDR];
const isRoot = process.getuid?.() === 0;

/** Per table: row count and a hash of every row. */
function fingerprint(pg: Server, db = 'postgres'): string {
  const tables = pg.sql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").trim().split('\n').filter(Boolean);
  return tables.map((tb) => `${tb}:${pg.sql(db, `SELECT count(*) || '/' || md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM "${tb}" t`).trim()}`).join('\n');
}

/** `dbcast` run as `user` (runuser; as it is when the tests are not root). */
function dbcastAs(user: string | null, args: string[], timeoutMs = 600_000): Run {
  if (!user || !isRoot) return dbcast(args, { timeoutMs });
  const child = spawn('runuser', ['-u', user, '--', process.execPath, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/' });
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); for (const w of [...watchers]) w(); });
  const limit = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => { clearTimeout(limit); resolve({ code, stderr }); }));
  const stderrMatch = (re: RegExp, ms = 60_000): Promise<void> => new Promise((resolve, reject) => {
    const stop = (): void => { watchers.delete(check); clearTimeout(timer); };
    const check = (): void => { if (re.test(stderr)) { stop(); resolve(); } };
    const timer = setTimeout(() => { stop(); reject(new Error(`stderr never matched ${re}:\n${stderr}`)); }, ms);
    watchers.add(check); check();
    void done.then(() => { if (watchers.has(check)) { stop(); reject(new Error(`exited before stderr matched ${re}:\n${stderr}`)); } });
  });
  return { child, done, stderrMatch };
}

/** Can `user` run the built dbcast (dist/, bin/ and node readable along their whole path)? */
function canRun(user: string): boolean {
  return spawnSync('runuser', ['-u', user, '--', process.execPath, BIN, '--version'], { stdio: 'ignore', cwd: '/' }).status === 0;
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !ok();) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function run(): void {
  let primary: Server;
  let r1: PgCluster; let r2: PgCluster;
  let r1User: string | null = null;
  const backup = (): string => `pg_basebackup -h ${primary.host} -p ${primary.port} -U postgres -D - -Ft -X fetch --checkpoint=fast`;

  /** r1 runs as the owner (when it can reach dist/), r2 as root with runuser in its commands. */
  const receive = (c: PgCluster, asOwner: boolean, port: number, job: string, name: string, extra: string[] = [], commands?: { stop?: string; start?: string }): Run =>
    dbcastAs(asOwner ? r1User : null, ['receive', ...GROUP, '--port', String(port), '--job', job, '--name', name, '--idle-timeout-sec', '5',
      '--restore', 'postgres-cluster', '--data-dir', c.dataDir, '--db-host', c.host, '--db-port', String(c.port), '--db-user', 'postgres',
      '--stop-command', commands?.stop ?? (asOwner && r1User ? c.stopCommand : c.rootStopCommand),
      '--start-command', commands?.start ?? (asOwner && r1User ? c.startCommand : c.rootStartCommand),
      '--server-log', c.logFile, '--check-timeout-sec', '120', ...extra]);
  const send = (port: number, job: string, n: number, extra: string[]): Run =>
    dbcast(['send', ...GROUP, '--port', String(port), '--job', job, '--min-receivers', String(n), '--max-wait-sec', '60', ...extra], { timeoutMs: 600_000 });
  const report = (file: string): { receivers: { name: string; restore: string; detail: string }[] } => JSON.parse(fs.readFileSync(file, 'utf8'));

  t.before(() => {
    primary = startPostgres();
    execSync(`pgbench -i -s 3 -q -h ${primary.host} -p ${primary.port} -U postgres postgres`, { stdio: 'ignore' });
    primary.sql('postgres', `
      CREATE TABLE docs (id serial PRIMARY KEY, title text NOT NULL, body text, tags text[]);
      CREATE INDEX docs_title ON docs (title); CREATE INDEX docs_tags ON docs USING gin (tags);
      INSERT INTO docs (title, body, tags) SELECT 'doc ' || g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 300) i), ARRAY['t' || g % 7]
        FROM generate_series(1, 2000) g;
      CREATE TABLE stream_check (id int PRIMARY KEY, at timestamptz DEFAULT now());`);
    r1 = startPgCluster(9860, 'dbcast-pgc1-');
    r2 = startPgCluster(9861, 'dbcast-pgc2-');
    for (const r of [r1, r2]) r.sql('postgres', 'CREATE TABLE old_marker (x int); INSERT INTO old_marker VALUES (1)');
    if (isRoot) r1User = canRun(r1.owner) ? r1.owner : null;
  });
  t.teardown(() => { r1?.stop(); r2?.stop(); primary?.stop(); });

  t.test('a base backup to 2 running clusters: both swapped, equal to the primary, .previous kept; the standby follows', async (t) => {
    if (isRoot && !r1User) t.comment(`${r1.owner} cannot run ${BIN} (a directory on its path is private): r1 runs as root too`);
    const archive = tempDir(t);
    fs.chmodSync(archive, 0o1777);
    const oldIds = [r1, r2].map((r) => r.sql('postgres', 'SELECT system_identifier FROM pg_control_system()').trim());
    const rx = [
      receive(r1, true, 9850, 'pgc', 'r1', ['--output', archive]),
      receive(r2, false, 9850, 'pgc', 'r2', ['--as-standby', '--primary-conninfo', `host=${primary.host} port=${primary.port} user=postgres application_name=r2`]),
    ];
    await Promise.all(rx.map((r) => r.stderrMatch(LISTENING, 60_000)));
    const s = await send(9850, 'pgc', 2, ['--command', backup(), '--report', path.join(archive, 'r.json')]).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver r${i + 1} exit 0`, { stderr: r.stderr }));
    t.same(report(path.join(archive, 'r.json')).receivers.map((x) => x.restore).sort(), ['swapped', 'swapped'], 'report: both swapped');
    const want = fingerprint(primary);
    t.match(want, /pgbench_accounts:300000\//);
    for (const r of [r1, r2]) t.equal(fingerprint(r), want, `${path.basename(r.dir)} equals the primary, table by table`);
    for (const [i, r] of [r1, r2].entries()) {
      t.ok(fs.existsSync(path.join(`${r.dataDir}.previous`, 'PG_VERSION')), `${r.dataDir}.previous kept`);
      t.notOk(fs.existsSync(`${r.dataDir}.incoming`), 'no staging directory left');
      t.not(r.sql('postgres', 'SELECT system_identifier FROM pg_control_system()').trim(), oldIds[i], 'another cluster answers now');
    }
    t.same(r1.sql('postgres', 'SELECT pg_is_in_recovery(), timeline_id > 1 FROM pg_control_checkpoint()').trim(), 'f|t', 'r1: promoted to its own timeline');
    t.notMatch(fs.readFileSync(path.join(r1.dataDir, 'postgresql.auto.conf'), 'utf8'), /recovery_target/, 'r1: no recovery target left behind');
    r1.sql('postgres', 'INSERT INTO stream_check VALUES (-1)'); // writable
    t.equal(r2.sql('postgres', 'SELECT pg_is_in_recovery()').trim(), 't', 'r2: a standby');
    primary.sql('postgres', 'INSERT INTO stream_check VALUES (42)');
    await waitFor('the row inserted on the primary after the swap reaches the standby', () => r2.sql('postgres', 'SELECT count(*) FROM stream_check WHERE id = 42').trim() === '1');
    t.pass('a row inserted on the primary after the swap appeared on the standby');
    const archived = fs.readdirSync(archive).filter((f) => f.endsWith('.dump'));
    t.equal(archived.length, 1, 'r1 archived the base backup');
    t.match(execSync(`tar -tf ${path.join(archive, archived[0])}`).toString(), /^PG_VERSION$/m, 'the archive is the base.tar');
    t.ok(fs.existsSync(path.join(archive, `${archived[0]}.sha256`)), '.sha256 beside it');
  });

  /** Each failure case starts from r1 as it is now, marked so that "the old data" is recognisable. */
  const mark = (tag: string): string => { r1.sql('postgres', `CREATE TABLE IF NOT EXISTS marker (tag text); DELETE FROM marker; INSERT INTO marker VALUES ('${tag}')`); return fingerprint(r1); };
  const oldIsBack = (t: Test, print: string, failedCopyKept = false): void => {
    t.equal(fingerprint(r1), print, 'the old server answers with its old data');
    t.notOk(fs.existsSync(`${r1.dataDir}.incoming`), 'no staging directory left');
    t.equal(fs.existsSync(`${r1.dataDir}.failed`), failedCopyKept, failedCopyKept ? 'the copy that failed is kept aside for the operator' : 'no failed copy left');
  };
  let backupFile = '';
  const makeBackupFile = (dir: string): string => {
    if (!backupFile || !fs.existsSync(backupFile)) { backupFile = path.join(dir, 'base.tar'); execSync(`${backup()} > ${backupFile}`); }
    return backupFile;
  };

  t.test('the sender is killed halfway: exit 8, the staging copy removed, the old server untouched', async (t) => {
    const print = mark('cut');
    const rx = receive(r1, true, 9851, 'cut', 'r1');
    await rx.stderrMatch(LISTENING);
    const s = send(9851, 'cut', 1, ['--max-rate-mbps', '40', '--command', backup()]);
    await waitFor('the extraction is under way', () => fs.existsSync(path.join(`${r1.dataDir}.incoming`, 'base')));
    s.child.kill('SIGKILL');
    const r = await rx.done;
    t.equal(r.code, 8, 'receiver exit 8 (the sender went silent)', { stderr: r.stderr });
    oldIsBack(t, print);
  });

  t.test('a lying END (SHA-256 mismatch): exit 6, nothing swapped', async (t) => {
    const dir = tempDir(t);
    const print = mark('liar');
    const rx = receive(r1, true, 9852, 'liar', 'r1');
    await rx.stderrMatch(LISTENING);
    const rep = await lyingSend({ group: GROUP_ADDR, port: 9852, job: 'liar', minReceivers: 1, input: fs.readFileSync(makeBackupFile(dir)) });
    const r = await rx.done;
    t.equal(r.code, 6, 'receiver exit 6', { stderr: r.stderr });
    t.same(rep.receivers.map((x) => x.code), ['hash-mismatch']);
    t.notMatch(r.stderr, /swap step stop/, 'the live server was never stopped');
    oldIsBack(t, print);
  });

  /** The backup with its pg_control damaged: verified end to end, but the server refuses to start on it. */
  const corruptBackup = (dir: string): string => {
    const buf = Buffer.from(fs.readFileSync(makeBackupFile(dir)));
    for (let at = 0; at + 512 <= buf.length; at += 512) {
      if (buf.toString('utf8', at, at + 100).replace(/\0.*$/s, '') === 'global/pg_control' && buf.toString('latin1', at + 257, at + 262) === 'ustar') {
        for (let i = 16; i < 64; i++) buf[at + 512 + i] ^= 0x5a;
        const out = path.join(dir, 'corrupt.tar');
        fs.writeFileSync(out, buf);
        return out;
      }
    }
    throw new Error('no global/pg_control entry in the backup');
  };

  t.test('a copy that will not start: stopped, the old data put back and started, kept-old with the step and the server log', async (t) => {
    const dir = tempDir(t);
    const print = mark('nostart');
    const file = corruptBackup(dir);
    const rx = receive(r1, true, 9853, 'bad', 'r1');
    await rx.stderrMatch(LISTENING);
    const s = await dbcast(['send', ...GROUP, '--port', '9853', '--job', 'bad', '--min-receivers', '1', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json')], { stdinFile: file, timeoutMs: 600_000 }).done;
    const r = await rx.done;
    t.equal(r.code, 7, 'receiver exit 7 (the restore failed)', { stderr: r.stderr });
    t.equal(s.code, 4, 'sender exit 4');
    const x = report(path.join(dir, 'r.json')).receivers[0];
    t.equal(x.restore, 'kept-old');
    t.match(x.detail, /step (start|check) failed/, 'the report names the step');
    t.match(x.detail, /server log: .*(control file|pg_control)/i, 'and carries the server\'s last log lines');
    t.match(x.detail, /rolled back/);
    oldIsBack(t, print);
  });

  t.test('the rollback fails too (the start command always fails): exit 11, rollback-failed, the old data in place', async (t) => {
    const dir = tempDir(t);
    const print = mark('norollback');
    const file = corruptBackup(dir);
    const rx = receive(r1, true, 9854, 'worse', 'r1', [], { start: 'echo "pg_ctl: could not start server" >&2; exit 1' });
    await rx.stderrMatch(LISTENING);
    const s = await dbcast(['send', ...GROUP, '--port', '9854', '--job', 'worse', '--min-receivers', '1', '--max-wait-sec', '60', '--report', path.join(dir, 'r.json')], { stdinFile: file, timeoutMs: 600_000 }).done;
    const r = await rx.done;
    t.equal(r.code, 11, 'receiver exit 11 (rollback failed)', { stderr: r.stderr });
    t.equal(s.code, 4, 'sender exit 4');
    const x = report(path.join(dir, 'r.json')).receivers[0];
    t.equal(x.restore, 'rollback-failed');
    t.match(x.detail, /ROLLBACK FAILED \(the start command exited with status 1\) after step start failed/);
    t.match(x.detail, /the old data is in \S+\/data\b/, 'says where the old data is');
    t.ok(fs.existsSync(`${r1.dataDir}.rollback-failed`), 'a marker beside the data directory waits for the operator');
    // The next run is refused before it joins (it would start by removing .previous).
    const again = receive(r1, true, 9855, 'worse2', 'r1', ['--start-timeout-sec', '2'], {});
    const a = await again.done;
    t.not(a.code, 0, 'the next run is refused while the marker is there');
    t.match(a.stderr, /a rollback failed here before and waits for the operator/);
    r1.start(); // what the operator does next
    oldIsBack(t, print, true);
    fs.rmSync(`${r1.dataDir}.failed`, { recursive: true, force: true });
    fs.rmSync(`${r1.dataDir}.rollback-failed`);
  });
}

const missing = postgresMissing() ?? (spawnSync('sh', ['-c', 'command -v pg_basebackup && command -v pgbench']).status !== 0 ? 'pg_basebackup/pgbench not found (apt install postgresql postgresql-client)' : null);
if (missing && process.env.CI) t.fail(`PostgreSQL is required in CI: ${missing}`);
else if (missing) t.plan(0, `PostgreSQL cluster tests skipped: ${missing}`);
else run();
