// The pure and local parts of --restore postgres-cluster: tar entry checks, the extractor's
// refusals (nothing is ever created outside the staging directory), Debian's default commands,
// the recovery settings, the flags, and the stop/swap/start/rollback sequence with a fake server.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseRestoreOptions } from '../receiver/restore/restore-options';
import { BaseBackupPolicy, baseBackupProblem } from '../receiver/restore/postgres-cluster/backup-policy';
import { clusterFromConfig, clusterFromPath, ctlClusterCommand, debianCluster } from '../receiver/restore/postgres-cluster/commands';
import { commandProblem, commandProgram } from '../receiver/restore/server-swap/command-check';
import { confValue, recoverySettings, withSettings } from '../receiver/restore/postgres-cluster/recovery';
import { TarExtractor } from '../receiver/restore/postgres-cluster/tar-extractor';
import { numericField, parseTarHeader, safeEntryPath } from '../receiver/restore/postgres-cluster/tar-header';
import { swapDataDir, type ServerControl, type StepResult } from '../receiver/restore/server-swap/swap';
import { rollbackMarkerProblem } from '../receiver/restore/server-swap/dirs';
import { createLogger } from '../runtime/log';

/** A ustar header, as pg_basebackup writes them. */
function header(name: string, type: string, size = 0, link = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000600\0', 100); b.write('0000000\0', 108); b.write('0000000\0', 116);
  b.write(size.toString(8).padStart(11, '0') + '\0', 124);
  b.write('00000000000\0', 136);
  b.write(type, 156); b.write(link, 157, 100); b.write('ustar\0', 257); b.write('00', 263);
  b.fill(0x20, 148, 156);
  let sum = 0; for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return b;
}
const file = (name: string, data: string): Buffer => {
  const d = Buffer.from(data);
  return Buffer.concat([header(name, '0', d.length), d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
};
const END = Buffer.alloc(1024);

async function extract(parts: Buffer[], liveMajor = '15', chunk = 700): Promise<{ dir: string; root: string; err: string | null; x: TarExtractor }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-tar-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'staging');
  fs.mkdirSync(dir, { mode: 0o700 });
  const x = new TarExtractor(dir, new BaseBackupPolicy(liveMajor), null);
  const all = Buffer.concat(parts);
  for (let i = 0; i < all.length && !x.failure; i += chunk) x.write(all.subarray(i, i + chunk)); // odd chunk sizes: headers split
  return { dir, root, err: await x.end(), x };
}

t.test('entry paths: relative and inside, or refused', async (t) => {
  t.same(safeEntryPath('./pg_wal/archive_status/'), { ok: true, path: 'pg_wal/archive_status' });
  t.same(safeEntryPath('base//1/./2'), { ok: true, path: 'base/1/2' });
  t.match(safeEntryPath('/etc/passwd'), { ok: false, reason: /absolute/ });
  t.match(safeEntryPath('base/../../x'), { ok: false, reason: /\.\./ });
  t.match(safeEntryPath('a\nb'), { ok: false, reason: /control/ });
  t.match(safeEntryPath(''), { ok: false });
});

t.test('tar headers: checksum, magic, base-256 sizes', async (t) => {
  const h = parseTarHeader(header('PG_VERSION', '0', 3));
  t.match(h, { ok: true, entry: { path: 'PG_VERSION', type: 'file', sizeBytes: 3 } });
  const bad = header('PG_VERSION', '0', 3); bad[0] ^= 1;
  t.match(parseTarHeader(bad), { ok: false, reason: /checksum/ });
  t.same(parseTarHeader(Buffer.alloc(512)), { ok: true, entry: null }, 'a zero block ends the archive');
  const big = Buffer.alloc(12); big[0] = 0x80; big.writeUIntBE(10 * 2 ** 32, 6, 6);
  t.equal(numericField(big, 0, 12), 10 * 2 ** 32, 'GNU base-256 size');
});

t.test('a base backup is extracted; its checks pass', async (t) => {
  const { dir, err, x } = await extract([header('global/', '5'), file('PG_VERSION', '15\n'), file('global/pg_control', 'x'.repeat(3000)),
    file('backup_label', 'START WAL LOCATION: 0/2000028\n'), file('tablespace_map', ''), header('pg_tblspc/', '5'), file('./pg_wal/000000010000000000000002', 'w'), END, Buffer.alloc(4096)]);
  t.equal(err, null);
  t.equal(fs.readFileSync(path.join(dir, 'global/pg_control'), 'utf8'), 'x'.repeat(3000));
  t.equal(fs.statSync(path.join(dir, 'PG_VERSION')).mode & 0o777, 0o600);
  t.equal(baseBackupProblem(x.summary), null);
});

t.test('refused streams: nothing lands outside the staging directory', async (t) => {
  const cases: [string, Buffer[], RegExp][] = [
    ['absolute path', [header('/tmp/evil', '0', 0), END], /absolute/],
    ['dot-dot', [file('../evil', 'x'), END], /\.\./],
    ['a symlink out', [header('pg_wal', '2', 0, '/etc'), END], /symlink/],
    ['a tablespace', [header('pg_tblspc/16384', '2', 0, '/srv/ts'), END], /tablespace/],
    ['a tablespace_map', [file('tablespace_map', '16384 /srv/ts\n'), END], /tablespace/],
    ['a hard link', [header('a', '1', 0, 'b'), END], /hard link/],
    ['a device', [header('dev', '3'), END], /tar type/],
    ['another major version', [file('PG_VERSION', '16\n'), END], /PostgreSQL 16, the live cluster 15/],
    ['a second archive after the first', [file('PG_VERSION', '15\n'), END, header('16384/', '5'), END], /second archive/],
    ['not a tar', [Buffer.from('PGDMP'.padEnd(2048, 'x'))], /checksum/],
    ['cut inside an entry', [header('global/pg_control', '0', 8192), Buffer.alloc(100)], /ends inside global\/pg_control/],
    ['a duplicate entry', [file('PG_VERSION', '15\n'), file('PG_VERSION', '15\n'), END], /EEXIST/],
  ];
  for (const [what, parts, re] of cases) {
    const { root, err } = await extract(parts);
    t.match(err, re, what);
    t.same(fs.readdirSync(root), ['staging'], `${what}: nothing beside the staging directory`);
  }
  t.equal(fs.existsSync('/tmp/evil'), false);
});

t.test('an incomplete data directory is refused before any swap', async (t) => {
  const { x } = await extract([file('PG_VERSION', '15\n'), file('global/pg_control', 'x'), file('backup_label', 'l'), END]);
  t.match(baseBackupProblem(x.summary), /no WAL/);
  const { x: y } = await extract([file('PG_VERSION', '15\n'), file('global/pg_control', 'x'), END]);
  t.match(baseBackupProblem(y.summary), /backup_label/);
});

t.test('Debian defaults: from the path, or from data_directory in /etc/postgresql', async (t) => {
  t.same(clusterFromPath('/var/lib/postgresql/15/main'), { version: '15', cluster: 'main' });
  t.same(clusterFromPath('/var/lib/postgresql/15/main/'), { version: '15', cluster: 'main' });
  t.equal(clusterFromPath('/srv/pg/data'), null);
  t.equal(clusterFromPath('/var/lib/postgresql/15/ma;in'), null, 'a name unsafe in a shell');
  t.equal(ctlClusterCommand({ version: '15', cluster: 'main' }, 'stop'), 'pg_ctlcluster 15 main stop');
  const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-etc-'));
  t.teardown(() => fs.rmSync(etc, { recursive: true, force: true }));
  fs.mkdirSync(path.join(etc, '16', 'reports'), { recursive: true });
  fs.writeFileSync(path.join(etc, '16', 'reports', 'postgresql.conf'), "port = 5433\ndata_directory = '/srv/pg/reports'\t# moved\n");
  t.same(clusterFromConfig('/srv/pg/reports', etc), { version: '16', cluster: 'reports' });
  t.same(debianCluster('/srv/pg/reports', etc), { version: '16', cluster: 'reports' });
  t.equal(debianCluster('/srv/pg/other', etc), null);
  t.equal(commandProgram('PGCTLTIMEOUT=600 pg_ctlcluster 15 main stop'), 'pg_ctlcluster');
  t.equal(commandProgram('sudo -n systemctl stop postgresql@15-main'), 'sudo');
  t.equal(commandProgram('$HOME/bin/stop'), null);
});

t.test('stop/start commands: systemctl is refused before joining on a host systemd did not boot', async (t) => {
  // Seen in a README run: the default `systemctl stop mariadb` failed only after the transfer.
  const fakeSystemctl = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-bin-'));
  t.teardown(() => fs.rmSync(fakeSystemctl, { recursive: true, force: true }));
  fs.writeFileSync(path.join(fakeSystemctl, 'systemctl'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const cmd = `${path.join(fakeSystemctl, 'systemctl')} stop mariadb`;
  t.match(await commandProblem(cmd, () => false), /^systemctl cannot work on this host: systemd is not its init system \(no \/run\/systemd\/system\)/);
  t.equal(await commandProblem(cmd, () => true), null, 'with systemd running it may run');
  t.match(await commandProblem(`sudo -n ${cmd}`, () => false), /systemctl cannot work/, 'behind sudo too');
  t.equal(await commandProblem('pg_ctlcluster 15 main stop', () => false), spawnSync('sh', ['-c', 'command -v pg_ctlcluster']).status === 0 ? null : 'pg_ctlcluster is not found or not executable', 'other programs do not need systemd');
  t.match(await commandProblem('/nonexistent/pg_ctl stop', () => true), /^\/nonexistent\/pg_ctl is not found or not executable$/);
});

t.test('recovery settings: own timeline by default, a standby with --as-standby', async (t) => {
  const own = recoverySettings({ asStandby: false });
  t.same(own, { signal: 'recovery.signal', temporary: true, settings: { restore_command: 'false', recovery_target: 'immediate', recovery_target_action: 'promote' } });
  const sb = recoverySettings({ asStandby: true, primaryConninfo: 'host=db1 user=rep', primaryPassfile: "/etc/o'pass", primarySlotName: 'r1' });
  t.same(sb.settings, { primary_conninfo: "host=db1 user=rep passfile='/etc/o\\'pass'", primary_slot_name: 'r1' });
  t.equal(sb.signal, 'standby.signal');
  const conf = "# Do not edit\nwork_mem = '64MB'\nprimary_conninfo = 'host=old'\n";
  const out = withSettings(conf, sb.settings);
  t.match(out, /work_mem = '64MB'/, 'the live cluster\'s own settings stay');
  t.notMatch(out, /host=old/, 'an earlier primary_conninfo is replaced');
  t.match(out, /primary_conninfo = 'host=db1 user=rep passfile=''\/etc\/o\\\\''pass'''/);
  t.equal(confValue("a'b\\c"), "'a''b\\\\c'");
});

t.test('flags: what postgres-cluster takes and refuses', async (t) => {
  const base = { restore: 'postgres-cluster', 'data-dir': '/var/lib/postgresql/15/main' };
  const ok = parseRestoreOptions(base);
  t.match(ok, { kind: 'postgres-cluster', database: '', dataDir: '/var/lib/postgresql/15/main', asStandby: false, checkTimeoutSec: 300, keepFiles: [] });
  t.throws(() => parseRestoreOptions({ ...base, database: 'app' }), /--database: used with a --restore that takes it/);
  t.throws(() => parseRestoreOptions({ ...base, 'restore-arg': ['-O'] }), /--restore-arg/);
  t.throws(() => parseRestoreOptions({ ...base, 'spool-dir': '/tmp' }), /--spool-dir/);
  t.throws(() => parseRestoreOptions({ restore: 'postgres-cluster' }), /--data-dir/);
  t.throws(() => parseRestoreOptions({ ...base, 'data-dir': 'main' }), /--data-dir: expected an absolute path/);
  t.throws(() => parseRestoreOptions({ ...base, 'primary-conninfo': 'host=db1' }), /--primary-conninfo: used with --as-standby only/);
  t.throws(() => parseRestoreOptions({ ...base, 'as-standby': true }), /--primary-conninfo: expected a connection string/);
  t.throws(() => parseRestoreOptions({ ...base, 'as-standby': true, 'primary-conninfo': 'host=db1 password=x' }), /without password=/);
  t.throws(() => parseRestoreOptions({ ...base, 'keep-file': ['../x'] }), /--keep-file/);
  t.throws(() => parseRestoreOptions({ restore: 'postgres', database: 'app', 'data-dir': '/x' }), /--data-dir: used with --restore postgres-cluster/);
  t.match(parseRestoreOptions({ ...base, 'as-standby': true, 'primary-conninfo': 'host=db1', 'keep-file': ['server.key'] }), { asStandby: true, primaryConninfo: 'host=db1', keepFiles: ['server.key'] });
});

/** A server that is a flag on disk; start fails as scripted. */
function fakeServer(dir: string, script: { startFails?: number[]; checkNewFails?: boolean; stopFails?: boolean }): ServerControl & { calls: string[] } {
  const live = path.join(dir, 'data');
  let up = true; let starts = 0;
  const calls: string[] = [];
  const ok = (m = ''): StepResult => ({ ok: true, message: m });
  return {
    calls,
    running: async () => up,
    stop: async () => { calls.push('stop'); if (script.stopFails) return { ok: false, message: 'stop failed' }; up = false; return ok(); },
    start: async () => { starts++; calls.push(`start:${fs.readFileSync(path.join(live, 'WHO'), 'utf8')}`); if (script.startFails?.includes(starts)) return { ok: false, message: 'start failed' }; up = true; return ok(); },
    check: async (which) => { calls.push(`check:${which}`); return which === 'new' && script.checkNewFails ? { ok: false, message: 'no answer' } : ok(); },
    lastLog: async () => 'FATAL: incorrect checksum in control file',
  };
}

function dirs(t: { teardown(f: () => void): void }): { root: string; plan: (c: ServerControl) => Parameters<typeof swapDataDir>[0] } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-swap-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const [d, who] of [['data', 'old'], ['data.incoming', 'new'], ['data.previous', 'older']]) { fs.mkdirSync(path.join(root, d)); fs.writeFileSync(path.join(root, d, 'WHO'), who); }
  const log = createLogger('test', 'error');
  log.silent = true;
  return { root, plan: (control) => ({ live: path.join(root, 'data'), staging: path.join(root, 'data.incoming'), previous: path.join(root, 'data.previous'), failed: path.join(root, 'data.failed'), control, log }) };
}
const who = (root: string, d: string): string => fs.readFileSync(path.join(root, d, 'WHO'), 'utf8');

t.test('swap: stop, move, start, check; the old copy kept as .previous', async (t) => {
  const { root, plan } = dirs(t);
  const s = fakeServer(root, {});
  const r = await swapDataDir(plan(s));
  t.equal(r.outcome, 'swapped');
  t.same([who(root, 'data'), who(root, 'data.previous')], ['new', 'old'], 'the older .previous replaced');
  t.same(s.calls, ['stop', 'start:new', 'check:new']);
});

t.test('swap: the copy does not start: rolled back, kept-old, the step and the log named', async (t) => {
  const { root, plan } = dirs(t);
  const s = fakeServer(root, { startFails: [1] });
  const r = await swapDataDir(plan(s));
  t.equal(r.outcome, 'kept-old');
  t.equal(r.failedStep, 'start');
  t.match(r.detail, /^step start failed: start failed; rolled back, the old server answers; server log: FATAL: incorrect checksum/);
  t.match(r, { state: 'rolled back, the old server answers', why: 'start failed', serverLog: 'FATAL: incorrect checksum in control file' }, 'the same in parts (the MariaDB preset orders them state first)');
  t.same(fs.readdirSync(root).sort(), ['data'], 'the old data back in place; the failed copy removed');
  t.equal(who(root, 'data'), 'old');
  t.same(s.calls, ['stop', 'start:new', 'start:old', 'check:old']);
});

t.test('swap: the copy starts but never answers: stopped, rolled back', async (t) => {
  const { root, plan } = dirs(t);
  const s = fakeServer(root, { checkNewFails: true });
  const r = await swapDataDir(plan(s));
  t.match(r, { outcome: 'kept-old', failedStep: 'check' });
  t.same(s.calls, ['stop', 'start:new', 'check:new', 'stop', 'start:old', 'check:old']);
  t.equal(who(root, 'data'), 'old');
});

t.test('swap: the rollback fails too: rollback-failed, loudly, saying where each copy is', async (t) => {
  const { root, plan } = dirs(t);
  const s = fakeServer(root, { startFails: [1, 2] });
  const r = await swapDataDir(plan(s));
  t.equal(r.outcome, 'rollback-failed');
  t.match(r.detail, /^ROLLBACK FAILED \(start failed\) after step start failed: start failed; the old data is in .*data, the new in .*data\.failed/);
  t.match(r.state, /^ROLLBACK FAILED: the old server did not come back \(start failed\); the old data is in .*data, the new in .*data\.failed$/);
  const marker = path.join(root, 'data.rollback-failed');
  t.match(fs.readFileSync(marker, 'utf8'), /^\d{4}-\d\d-\d\dT\S+ ROLLBACK FAILED \(start failed\)/, 'a marker beside the data directory says what happened');
  t.match(rollbackMarkerProblem(path.join(root, 'data')), /^a rollback failed here before and waits for the operator: .*ROLLBACK FAILED.*remove .*data\.rollback-failed$/, 'later runs are refused while it is there');
  fs.rmSync(marker);
  t.equal(rollbackMarkerProblem(path.join(root, 'data')), null, 'and run again once the operator removed it');
});

t.test('swap: the stop fails: nothing moved, the old server answers: kept-old', async (t) => {
  const { root, plan } = dirs(t);
  const s = fakeServer(root, { stopFails: true });
  const r = await swapDataDir(plan(s));
  t.match(r, { outcome: 'kept-old', failedStep: 'stop' });
  t.equal(who(root, 'data'), 'old');
  t.notOk(fs.existsSync(path.join(root, 'data.rollback-failed')), 'kept-old leaves no marker');
  t.equal(who(root, 'data.incoming'), 'new', 'staging left for the sink to remove');
});

t.test('server log summary: the last error lines, without their prefix', async (t) => {
  const { serverLogSummary } = await import('../receiver/restore/postgres-cluster/control');
  const log = '2026-12-02 15:12:46.392 UTC [15029] LOG:  starting\n2026-12-02 15:12:46.400 UTC [15029] FATAL:  incorrect checksum in control file\n2026-12-02 15:12:46.401 UTC [15020] LOG:  database system is shut down\n';
  t.equal(serverLogSummary(log), 'FATAL:  incorrect checksum in control file');
  t.equal(serverLogSummary('a\nb\nc\n'), 'b | c');
});

t.test('stop/start commands: a server left running in the background does not hold the command open', async (t) => {
  const { runShell } = await import('../receiver/restore/server-swap/shell-command');
  const t0 = Date.now();
  // Like pg_ctl start without -l: the started process keeps the command's stdout.
  const r = await runShell('sleep 6 & echo "server starting"', 20_000);
  t.ok(Date.now() - t0 < 5000, 'returns when the command exits, not when its background child does');
  t.same([r.ok, r.output], [true, 'server starting']);
  const bad = await runShell('echo "pg_ctl: could not start server" >&2; exit 3', 20_000);
  t.same([bad.ok, bad.code, bad.output], [false, 3, 'pg_ctl: could not start server']);
  const slow = await runShell('sleep 30', 300);
  t.match(slow, { ok: false, timedOut: true });
});
