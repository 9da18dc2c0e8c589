// `dbcast status` as a monitoring check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. State it cannot
// read (a missing or unreadable state dir, a corrupt runs.jsonl) is UNKNOWN, never OK; bad flags
// are 3 too. Real runs through `dbcast run` give a degraded record (exit 10 -> WARNING), a failed
// one (-> CRITICAL) and a run in progress; the rest are records written by appendRun.
import t from 'tap';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { appendRun, markRunStarted, readRuns, type RunRecord } from '../src/run-history';
import { BIN, dbcast, randomFile, tempDir } from './helpers/dbcast';
import { maxAgeFromSchedule } from '../src/status';

const HOUR_MS = 3_600_000;

interface Out { code: number | null; stdout: string; stderr: string }
function status(...args: string[]): Out {
  const r = spawnSync(process.execPath, [BIN, 'status', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function statusJson(...args: string[]): { code: number | null; json: Record<string, unknown> & { state: string; jobs: Array<Record<string, unknown>> } } {
  const r = status(...args, '--json');
  return { code: r.code, json: JSON.parse(r.stdout) };
}

/** A record as the job runner writes it, ended `agoMs` before now. */
function record(stateDir: string, job: string, result: 'ok' | 'degraded' | 'failed', agoMs: number, exitCode = { ok: 0, degraded: 10, failed: 4 }[result]): void {
  const end = Date.now() - agoMs;
  const r: RunRecord = {
    job, role: 'send', startedAt: new Date(end - 1000).toISOString(), endedAt: new Date(end).toISOString(),
    exitCode, ok: result === 'ok', result, note: result === 'ok' ? 'ok' : `${result} for the test`, report: { totalBytes: 1 << 20 },
  };
  appendRun(stateDir, r);
}

function stateDir(t: Parameters<typeof tempDir>[0]): string {
  const dir = path.join(tempDir(t), 'state');
  fs.mkdirSync(dir, { mode: 0o750 });
  return dir;
}

t.test('a missing state dir is UNKNOWN (3), saying so', async (t) => {
  const dir = path.join(tempDir(t), 'nowhere');
  const r = status('--state-dir', dir);
  t.equal(r.code, 3, r.stdout);
  t.match(r.stdout, /^DBCAST UNKNOWN - state dir .*nowhere does not exist/);
  const j = statusJson('--state-dir', dir);
  t.equal(j.code, 3);
  t.match(j.json, { state: 'UNKNOWN', exitCode: 3, problem: { kind: 'missing-dir' } }, '--json says the same');
});

t.test('a corrupt runs.jsonl is UNKNOWN (3), naming the line', async (t) => {
  const sd = stateDir(t);
  record(sd, 'nightly', 'ok', 60_000);
  fs.appendFileSync(path.join(sd, 'runs.jsonl'), '{"job":"nightly","role":"se\n');
  record(sd, 'nightly', 'ok', 1000);
  const r = status('--state-dir', sd);
  t.equal(r.code, 3, r.stdout);
  t.match(r.stdout, /runs\.jsonl line 2 is not a run record/);
  fs.writeFileSync(path.join(sd, 'runs.jsonl'), '{"hello":"world"}\n');
  t.equal(status('--state-dir', sd).code, 3, 'valid JSON that is not a run record: UNKNOWN too');
});

// Root reads everything. As root, the state dir belongs to another user (nobody, mode 0750, as
// the unit makes it for the daemon's user) and status runs as root without capabilities
// (setpriv): a monitoring user outside the group, which can still read this checkout and node
// wherever CI put them. Not root: mode 000 on our own directory stands in for another user's.
const AS_ROOT = process.getuid?.() === 0;
const HAS_SETPRIV = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0;
const NO_OTHER_USER = AS_ROOT && !HAS_SETPRIV && !process.env.CI ? 'running as root without setpriv (util-linux): cannot drop the right to read every directory' : false;

t.test('a state dir this user may not read (0750, another user) is UNKNOWN (3)', { skip: NO_OTHER_USER }, async (t) => {
  const sd = stateDir(t);
  fs.chmodSync(path.dirname(sd), 0o755);
  record(sd, 'nightly', 'ok', 1000);
  let r: Out;
  if (!AS_ROOT) {
    fs.chmodSync(sd, 0o000);
    t.teardown(() => fs.chmodSync(sd, 0o750));
    r = status('--state-dir', sd);
  } else {
    fs.chownSync(sd, 65534, 65534);
    fs.chmodSync(sd, 0o750);
    const noCaps = ['setpriv', '--bounding-set=-all', '--inh-caps=-all'];
    // env -i: the test runner adds hooks to every child's environment that write where it may not.
    const x = spawnSync('env', ['-i', `PATH=${process.env.PATH ?? ''}`, ...noCaps, process.execPath, BIN, 'status', '--state-dir', sd], { encoding: 'utf8' });
    r = { code: x.status, stdout: x.stdout, stderr: x.stderr };
  }
  t.equal(r.code, 3, `${r.stdout}${r.stderr}`);
  t.match(r.stdout, /^DBCAST UNKNOWN - cannot read state dir .*\(EACCES\)/);
  t.notMatch(r.stdout, /no runs/, 'never "no runs recorded"');
});

t.test('last run ok: OK (0); failed: CRITICAL (2); degraded: WARNING (1); --json the same', async (t) => {
  const sd = stateDir(t);
  record(sd, 'nightly', 'failed', 3 * HOUR_MS);
  record(sd, 'nightly', 'ok', 60_000);
  const ok = status('--state-dir', sd);
  t.equal(ok.code, 0, ok.stdout);
  t.match(ok.stdout, /^DBCAST OK - 0 critical, 0 warning, 1 ok/);
  t.match(ok.stdout, /^OK +send nightly: last success \d+ s ago \[max age 26 h\]/m, 'no config: a daily 26 h limit');
  record(sd, 'nightly', 'degraded', 1000);
  const warn = status('--state-dir', sd);
  t.equal(warn.code, 1, warn.stdout);
  t.match(warn.stdout, /^WARNING +send nightly: last run degraded/m);
  const wj = statusJson('--state-dir', sd);
  t.equal(wj.code, 1);
  t.match(wj.json, { state: 'WARNING', exitCode: 1, jobs: [{ job: 'nightly', state: 'WARNING', lastRun: { result: 'degraded', exitCode: 10 } }] });
  record(sd, 'nightly', 'failed', 500);
  const crit = status('--state-dir', sd);
  t.equal(crit.code, 2, crit.stdout);
  t.match(crit.stdout, /^CRITICAL send nightly: last run failed .*\(exit 4\)/m);
  t.equal(statusJson('--state-dir', sd).json.state, 'CRITICAL');
});

t.test('no full success within the max age: CRITICAL (stale); a degraded run does not reset the age', async (t) => {
  const sd = stateDir(t);
  record(sd, 'nightly', 'ok', 30 * HOUR_MS);
  t.equal(status('--state-dir', sd).code, 2, 'older than the 26 h default');
  t.match(status('--state-dir', sd).stdout, /stale: over 26 h/);
  t.equal(status('--state-dir', sd, '--max-age-hours', '48').code, 0, 'within --max-age-hours 48');
  t.equal(status('--state-dir', sd, '--max-age-hours', '0').code, 0, '0: no age limit');
  record(sd, 'nightly', 'degraded', 1000);
  t.equal(status('--state-dir', sd).code, 2, 'degraded since: still stale');
});

t.test('with --config: a configured job that never ran is WARNING; a job no longer configured does not count', async (t) => {
  const dir = tempDir(t);
  const sd = path.join(dir, 'state');
  fs.mkdirSync(sd);
  const file = path.join(dir, 'd.yaml');
  // The key file does not exist: status reads only state-dir and the jobs, never the keys.
  fs.writeFileSync(file, `state-dir: ${sd}\ndefaults:\n  group: 239.255.42.62\n  key-file: ${dir}/no-such-key\njobs:\n` +
    '  - role: send\n    job: nightly\n    schedule: "0 2 * * *"\n    command: "true"\n' +
    '  - role: send\n    job: hourly\n    schedule: "15 * * * *"\n    command: "true"\n' +
    '  - role: receive\n    job: nightly\n    output: /tmp/x\n');
  record(sd, 'nightly', 'ok', 60_000);
  record(sd, 'removed', 'failed', 60_000);
  const r = status('--config', file);
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /^WARNING +receive nightly: configured but never ran/m);
  t.match(r.stdout, /^WARNING +send hourly: configured but never ran/m);
  t.match(r.stdout, /^OK +send nightly: .*\[max age 26 h\]/m, 'daily schedule: 24 h + 2 h');
  t.match(r.stdout, /^\(gone\) +send removed: last run failed/m, 'listed, not counted');
  const j = statusJson('--config', file);
  const hourly = j.json.jobs.find((x) => x.job === 'hourly');
  t.match(hourly, { configured: true, schedule: '15 * * * *', maxAgeHours: 3, lastRun: null }, 'an hourly schedule: 1 h + 2 h');
  t.match(j.json.unconfigured, [{ job: 'removed', configured: false }]);
  const bad = status('--config', path.join(dir, 'missing.yaml'));
  t.equal(bad.code, 3, 'an unreadable config is UNKNOWN');
  t.match(bad.stdout, /cannot read the config .*missing\.yaml/);
});

t.test('a marker of a run whose process is gone is WARNING', async (t) => {
  const sd = stateDir(t);
  record(sd, 'nightly', 'ok', 60_000);
  const gone = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => gone.on('close', resolve));
  markRunStarted(sd, { job: 'nightly', role: 'send', startedAt: new Date().toISOString(), pid: gone.pid as number });
  const r = status('--state-dir', sd);
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /has no process \(pid \d+ is gone/);
});

t.test('bad flags exit 3 (UNKNOWN), not 2 (CRITICAL), naming the flag', async (t) => {
  const r = status('--max-age-hours', 'soon');
  t.equal(r.code, 3);
  t.match(r.stderr, /--max-age-hours: expected a number of hours/);
  const u = status('--max-age-hour', '3');
  t.equal(u.code, 3);
  t.match(u.stderr, /max-age-hour/);
});

// ------------------------------------------------------------ real runs (under the test lock)

const NET = 'defaults:\n  interface: 127.0.0.1\n  group: 239.255.42.62\n  port: 9862\n';

t.test('dbcast run: a run in progress, then degraded (exit 10, WARNING); nobody came (CRITICAL)', async (t) => {
  const dir = tempDir(t);
  const sd = path.join(dir, 'state');
  const file = path.join(dir, 'd.yaml');
  randomFile(path.join(dir, 'in.bin'), 1 << 20);
  fs.writeFileSync(file, `state-dir: ${sd}\n${NET}jobs:\n` +
    `  - role: send\n    job: trio\n    schedule: "0 2 * * *"\n    command: cat ${dir}/in.bin\n    receivers: a,b,c\n    max-wait-sec: 3\n    max-wait-min-receivers: 2\n` +
    '  - role: send\n    job: lonely\n    schedule: "0 2 * * *"\n    command: "true"\n    max-wait-sec: 1\n');
  const rs = ['a', 'b'].map((name) => dbcast(['receive', '--interface', '127.0.0.1', '--group', '239.255.42.62', '--port', '9862', '--job', 'trio', '--name', name, '--output', path.join(dir, `${name}.dump`), '--start-timeout-sec', '60']));
  await Promise.all(rs.map((r) => r.stderrMatch(/listening for job/)));
  const run = dbcast(['run', 'trio', '--config', file], { timeoutMs: 60_000 });
  await run.stderrMatch(/run starts/);
  const during = statusJson('--config', file);
  const trio = during.json.jobs.find((x) => x.job === 'trio');
  t.match(trio, { lastRun: null, inProgress: { job: 'trio', processAlive: true } }, 'the run shows as in progress');
  t.match(trio?.reason, /first run in progress/);
  const r = await run.done;
  await Promise.all(rs.map((x) => x.done));
  t.equal(r.code, 10, `dbcast run exits with the run's 10 (degraded)\n${r.stderr}`);
  t.match(r.stderr, /run degraded \(exit 10\).*receivers 2\/3 ok: degraded: started with 2 of 3 receivers .*missing: c/, 'the summary line says degraded');
  t.match(readRuns(sd), [{ job: 'trio', exitCode: 10, ok: false, result: 'degraded' }], 'the run record: degraded, not ok');
  t.same(fs.readdirSync(sd).filter((f) => f.startsWith('running-')), [], 'the in-progress marker is gone');
  const after = status('--config', file, '--json');
  const j = JSON.parse(after.stdout) as { state: string; jobs: Array<{ job: string; state: string; reason: string }> };
  t.match(j.jobs.find((x) => x.job === 'trio'), { state: 'WARNING', reason: /last run degraded/ });
  t.equal(after.code, 1, 'WARNING: trio degraded, lonely never ran');

  const lonely = await dbcast(['run', 'lonely', '--config', file], { timeoutMs: 60_000 }).done;
  t.equal(lonely.code, 3, lonely.stderr);
  const crit = status('--config', file);
  t.equal(crit.code, 2, crit.stdout);
  t.match(crit.stdout, /^CRITICAL send lonely: last run failed .*\(exit 3\)/m);
});

t.test('the age limit follows the schedule as the daemon runs it: weekdays only, and across a DST change', async (t) => {
  const HOUR = 3_600_000;
  const monday = Date.parse('2026-11-30T12:00:00Z');
  t.equal(maxAgeFromSchedule('0 2 * * 1-5', 'UTC', monday), 74 * HOUR, 'Friday 02:00 to Monday 02:00, plus 2 h');
  t.equal(maxAgeFromSchedule('30 2 * * *', 'Europe/Berlin', Date.parse('2026-03-27T12:00:00Z')), 26 * HOUR,
    '02:30 on the spring-forward day runs at 03:00 (the daemon\'s rule): no gap over a day');
  t.equal(maxAgeFromSchedule(null, undefined, monday), 26 * HOUR, 'no schedule: daily plus slack');
});
