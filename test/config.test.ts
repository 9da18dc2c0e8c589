// The daemon's config: every mistake names its key and line (exit 2 from check-config), the
// examples shipped in systemd/examples validate, and the unit passes systemd-analyze verify.
import t, { type Test } from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { jobArgs, parseConfig } from '../src/config';
import { nextWindow, windowsMeet } from '../src/daemon/window';
import { BIN, tempDir } from './helpers/dbcast';

const ROOT = path.join(__dirname, '..');
const good = `
state-dir: /tmp/x
defaults:
  group: 239.1.2.3
jobs:
  - role: send
    job: app
    schedule: "0 2 * * *"
    command: pg_dump -Fc app
    min-receivers: 3
  - role: receive
    job: app
    restore: postgres
    database: app
    restore-arg: [--no-owner, -x]
`;

t.test('a good config: jobs, defaults merged, flags for the child', async (t) => {
  const c = parseConfig(good, 'dbcast.yaml');
  t.equal(c.jobs.length, 2);
  t.same(jobArgs(c.jobs[0].flags), ['--group=239.1.2.3', '--job=app', '--command=pg_dump -Fc app', '--min-receivers=3']);
  t.same(jobArgs(c.jobs[1].flags), ['--group=239.1.2.3', '--job=app', '--restore=postgres', '--database=app', '--restore-arg=--no-owner', '--restore-arg=-x']);
  t.equal(c.jobs[1].schedule, null, 'a receiver without schedule listens at all times');
});

t.test('each mistake names the key and its line', async (t) => {
  const cases: Array<[string, RegExp]> = [
    [good.replace('min-receivers: 3', 'min-receivers: lots'), /line 10: jobs\[0\]\.min-receivers: expected an integer from 1 to 256/],
    [good.replace('schedule: "0 2 * * *"', 'schedule: "0 25 * * *"'), /line 8: jobs\[0\]\.schedule: expected a cron expression/],
    [good.replace('    command: pg_dump -Fc app\n', ''), /jobs\[0\]\.command: a send job needs the dump command/],
    [good.replace('role: send', 'role: sned'), /line 6: jobs\[0\]\.role: expected send or receive/],
    [good.replace('database: app', 'database: app;drop'), /line 14: jobs\[1\]\.database: expected a database name/],
    [good.replace('restore: postgres', 'restor: postgres'), /line 13: jobs\[1\]\.restor: unknown key for a receive job/],
    [good.replace('  group: 239.1.2.3', '  group: 10.0.0.1'), /jobs\[0\]\.group: expected an IPv4 multicast address/],
    [good.replace('state-dir: /tmp/x', 'state-dir: /tmp/x\nzone: UTC'), /line 3: zone: unknown key/],
    [`${good}  - role: send\n    job: app\n    schedule: "* * * * *"\n    command: x\n`, /line 17: jobs\[2\]\.job: a second send job named app/],
    [good.replace('    job: app\n    restore', '    job: app\n    report: /tmp/r.json\n    restore'), /jobs\[1\]\.report: set by the daemon/],
    [good.replace('state-dir: /tmp/x', 'timezone: Mars/Olympus'), /line 2: timezone: expected an IANA time zone/],
    ['jobs: [', /yaml:/],
    ['jobs: []', /jobs: expected a list of jobs/],
  ];
  for (const [text, re] of cases) t.throws(() => parseConfig(text, 'dbcast.yaml'), { code: 'E_CONFIG', message: re }, String(re));
});

t.test('dbcast check-config: exit 0 on a good file, 2 naming the key on a bad one', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'good.yaml'), good);
  fs.writeFileSync(path.join(dir, 'bad.yaml'), good.replace('min-receivers: 3', 'min-receivers: 0'));
  const ok = spawnSync(process.execPath, [BIN, 'check-config', '--config', path.join(dir, 'good.yaml')], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  const bad = spawnSync(process.execPath, [BIN, 'check-config', '--config', path.join(dir, 'bad.yaml')], { encoding: 'utf8' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /bad\.yaml line 10: jobs\[0\]\.min-receivers: expected/);
  const missing = spawnSync(process.execPath, [BIN, 'check-config', '--config', path.join(dir, 'nope.yaml')], { encoding: 'utf8' });
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read it/);
});

t.test('the shipped example configs validate (interface swapped for loopback)', async (t) => {
  for (const f of fs.readdirSync(path.join(ROOT, 'systemd', 'examples'))) {
    const text = fs.readFileSync(path.join(ROOT, 'systemd', 'examples', f), 'utf8').replace(/interface: \S+/g, 'interface: 127.0.0.1');
    t.doesNotThrow(() => parseConfig(text, f), f);
  }
});

const UNIT_FILES = ['dbcast.service', 'dbcast-run@.service', 'dbcast-run@.timer'];
/** What systemd-analyze loads: the daemon's unit and an instance of the timer pair. */
const UNITS_TO_VERIFY = ['dbcast.service', 'dbcast-run@nightly.service', 'dbcast-run@nightly.timer'];
const SERVICES = ['dbcast.service', 'dbcast-run@nightly.service'];

/** The shipped units, pointed at this checkout's binary, in a temp dir; null (and the test
 *  planned out or failed) when systemd-analyze is missing. */
function unitsForAnalysis(t: Test): string | null {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
    if (process.env.CI) t.fail('systemd-analyze missing in CI (.ci/run installs systemd)');
    else t.plan(0, 'systemd-analyze not installed');
    return null;
  }
  const dir = tempDir(t);
  for (const f of UNIT_FILES) {
    fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(ROOT, 'systemd', f), 'utf8').replace(/\/usr\/local\/bin\/dbcast/g, BIN));
  }
  return dir;
}

t.test('systemd-analyze verify accepts the units', async (t) => {
  const dir = unitsForAnalysis(t);
  if (!dir) return;
  fs.chmodSync(BIN, 0o755);
  for (const u of UNITS_TO_VERIFY) {
    // A template is verified through an instance; the timer's check loads its service too.
    const r = spawnSync('systemd-analyze', ['verify', path.join(dir, u)], { encoding: 'utf8' });
    t.equal(r.status, 0, `${u}: ${r.stderr}`);
    t.notMatch(r.stderr, /dbcast(-run@\w*)?\.(service|timer)/, `no complaint about ${u} or what it loads`);
  }
});

/** Exposure at most this (systemd's scale: 0 = locked down, 10 = unprotected); it was 5.1 before the hardening. */
const MAX_SECURITY_EXPOSURE = 2.0;

t.test('systemd-analyze security rates both services at most 2.0', async (t) => {
  const dir = unitsForAnalysis(t);
  if (!dir) return;
  for (const u of SERVICES) {
    // --offline=yes (systemd >= 250) reads the file alone: no running systemd, no daemon-reload.
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', path.join(dir, u)], { encoding: 'utf8' });
    if (r.status !== 0 && /offline|unrecognized|unknown option/i.test(r.stderr)) {
      t.plan(0, `this systemd-analyze has no offline security mode: ${r.stderr.trim().split('\n')[0]}`);
      return;
    }
    t.equal(r.status, 0, r.stderr);
    const m = new RegExp(`Overall exposure level for ${u.replace(/\./g, '\\.')}: (\\d+(?:\\.\\d+)?)`).exec(r.stdout);
    t.ok(m, `an overall exposure line for ${u} in:\n${r.stdout.slice(-400)}`);
    const exposure = Number(m?.[1]);
    const open = r.stdout.split('\n').filter((l) => l.startsWith('✗')).map((l) => l.replace(/\s{2,}.*?(\d\.\d)$/, ' $1').trim());
    t.ok(exposure <= MAX_SECURITY_EXPOSURE, `${u}: exposure ${exposure} <= ${MAX_SECURITY_EXPOSURE}; still open:\n${open.join('\n')}`);
  }
});

function unitSettings(file: string): (key: string) => string[] {
  const unit = fs.readFileSync(path.join(ROOT, 'systemd', file), 'utf8');
  return (key) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1].trim());
}

t.test('the unit keeps what node, the dump tools and the network code need', async (t) => {
  const settings = unitSettings('dbcast.service');
  t.notMatch(settings('MemoryDenyWriteExecute').join(' '), /yes|true|1/, "no MemoryDenyWriteExecute: V8's JIT needs W+X pages");
  t.notMatch(settings('ProcSubset').join(' '), /pid/, 'no ProcSubset=pid: runtime/net.ts reads /proc/net/route, os.cpus() /proc/stat');
  const families = settings('RestrictAddressFamilies').join(' ').split(/\s+/);
  for (const f of ['AF_UNIX', 'AF_INET', 'AF_NETLINK']) t.ok(families.includes(f), `${f} allowed (local sockets, multicast, getifaddrs)`);
  t.equal(settings('ProtectSystem')[0], 'strict');
  t.same(settings('CapabilityBoundingSet'), [''], 'no capabilities');
  t.same(settings('UMask'), ['0027']);
  const rw = settings('ReadWritePaths').join(' ').split(/\s+/).filter(Boolean);
  t.ok(rw.includes('/var/lib/dbcast'), 'the state directory (StateDirectory= creates it)');
  for (const p of rw.filter((p) => p !== '/var/lib/dbcast')) t.ok(p.startsWith('-'), `${p}: optional, so a host without it still starts`);
});

/** Settings that make the sandbox; the timer-started service must not drift from the daemon's. */
const HARDENING_KEYS = ['NoNewPrivileges', 'CapabilityBoundingSet', 'AmbientCapabilities', 'ProtectSystem', 'ProtectHome',
  'PrivateTmp', 'PrivateDevices', 'PrivateMounts', 'RemoveIPC', 'PrivateUsers', 'ProtectKernelTunables', 'ProtectKernelModules',
  'ProtectKernelLogs', 'ProtectControlGroups', 'ProtectClock', 'ProtectHostname', 'ProtectProc', 'ProcSubset',
  'RestrictAddressFamilies', 'RestrictNamespaces', 'RestrictRealtime', 'RestrictSUIDSGID', 'LockPersonality',
  'MemoryDenyWriteExecute', 'SystemCallArchitectures', 'SystemCallFilter', 'SystemCallErrorNumber', 'UMask', 'ReadWritePaths',
  'User', 'Group', 'StateDirectory', 'StateDirectoryMode'];

t.test('units: time-sync.target ordered, not wanted; the install path; the timer pair', async (t) => {
  const daemon = unitSettings('dbcast.service');
  const run = unitSettings('dbcast-run@.service');
  const timer = unitSettings('dbcast-run@.timer');
  for (const [name, s] of [['dbcast.service', daemon], ['dbcast-run@.service', run]] as const) {
    t.notMatch(s('Wants').join(' '), /time-sync\.target/, `${name}: no Wants=time-sync.target (a passive unit, systemd.special(7))`);
    t.match(s('After').join(' '), /time-sync\.target/, `${name}: ordered after time-sync.target`);
    for (const cmd of [...s('ExecStartPre'), ...s('ExecStart'), ...s('ExecReload')].filter((c) => c.includes('dbcast'))) {
      t.match(cmd, /^\/usr\/local\/bin\/dbcast /, `${name}: ${cmd} runs the installed binary (README "Install")`);
    }
  }
  t.match(run('ExecStart')[0], / run %i --config /, 'the instance name is the job name');
  t.same(run('Type'), ['oneshot']);
  for (const k of HARDENING_KEYS) t.same(run(k), daemon(k), `${k} as in dbcast.service`);
  t.same(timer('Persistent'), ['true'], 'a run missed while the host was down is started at boot');
  t.ok(timer('OnCalendar').length > 0, 'a default calendar (operators override it per job)');
});

t.test('receiver windows and clock skew', async (t) => {
  const T = Date.parse('2026-11-23T02:00:00Z');
  t.same(nextWindow([T, T + 86_400_000], T - 200_000, 120_000, 900_000), { scheduledMs: T, openAtMs: T - 120_000, closeAtMs: T + 900_000 });
  t.same(nextWindow([T, T + 86_400_000], T + 1_000_000, 120_000, 900_000)?.scheduledMs, T + 86_400_000, 'a closed window is skipped');
  t.equal(nextWindow([], T, 1, 1), null);
  // Receiver listens 4 s either side, sender waits 5 s: skews of 0 and 2 s meet, 10 s do not.
  for (const skewSec of [0, 2, -2, 10, -10]) {
    const ok = Math.abs(skewSec) <= 4;
    const r = windowsMeet(T, skewSec * 1000, 5000, 0, 4000, 4000);
    t.equal(r.ok, ok, `sender ${skewSec} s off, window 4 s: ${ok ? 'run happens' : 'missed'}`);
    if (!r.ok) t.match(r.reason, skewSec > 0 ? /sender gave up .* before the receiver started listening/ : /receiver stopped listening .* before the sender started/);
    const wide = windowsMeet(T, skewSec * 1000, 5000, -skewSec * 500, 15_000, 15_000);
    t.ok(wide.ok, `skew ${skewSec} s against windows of 15 s: run happens`);
  }
});
