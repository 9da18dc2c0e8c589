// The daemon's metrics module driven directly with synthetic run records: per-receiver series
// follow the latest run, go stale and then go after a receiver has been missing for a while,
// stay bounded per job; counters by result; build, next-run and in-progress gauges; label
// values escaped by prom-client; and a live endpoint that `promtool check metrics` accepts.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import type { AddressInfo } from 'net';
import * as path from 'path';
import {
  DaemonMetrics, MAX_RECEIVER_SERIES_PER_JOB, RECEIVER_SERIES_MISSED_RUNS, RECEIVER_SERIES_TTL_MS, RUN_RESULTS, packageVersion,
} from '../src/daemon/metrics';
import type { RunRecord } from '../src/run-history';

const T0 = Date.parse('2026-03-01T02:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface Rx { name: string; outcome?: string; repairs?: number; offsetMs?: number | null }

function sendRun(job: string, endMs: number, receivers: Rx[], ok = true): RunRecord {
  return {
    job, role: 'send', startedAt: new Date(endMs - 60_000).toISOString(), endedAt: new Date(endMs).toISOString(),
    exitCode: ok ? 0 : 1, ok, note: ok ? 'ok' : 'failed',
    report: {
      totalBytes: 1000, repairPacketsSent: 3, dropped: {},
      receivers: receivers.map((x) => ({ name: x.name, outcome: x.outcome ?? 'ok', bytes: 1000, repairsRequested: x.repairs ?? 0, clockOffsetMs: x.offsetMs === undefined ? 5 : x.offsetMs })),
    },
  };
}

/** The sample values of one metric, by receiver label, for `job`. */
async function series(m: DaemonMetrics, metric: string, job: string): Promise<Record<string, number>> {
  const g = m.registry.getSingleMetric(metric);
  if (!g) throw new Error(`no metric ${metric}`);
  const out: Record<string, number> = {};
  for (const v of (await g.get()).values) if (v.labels.dbcast_job === job) out[String(v.labels.receiver)] = v.value;
  return out;
}

t.test('receiver series follow the latest run; an absent receiver reads 0 and loses its per-run series', async (t) => {
  const m = new DaemonMetrics();
  m.record(sendRun('nightly', T0, [{ name: 'a', repairs: 2, offsetMs: 1500 }, { name: 'b', outcome: 'failed' }]));
  t.same(await series(m, 'dbcast_receiver_ok', 'nightly'), { a: 1, b: 0 });
  t.same(await series(m, 'dbcast_receiver_repairs_requested', 'nightly'), { a: 2, b: 0 });
  t.same(await series(m, 'dbcast_receiver_clock_offset_seconds', 'nightly'), { a: 1.5, b: 0.005 });

  m.record(sendRun('nightly', T0 + DAY, [{ name: 'b', offsetMs: null }]));
  t.same(await series(m, 'dbcast_receiver_ok', 'nightly'), { a: 0, b: 1 }, 'a was not in the run: it did not succeed in it');
  t.same(await series(m, 'dbcast_receiver_repairs_requested', 'nightly'), { b: 0 }, 'no repairs series for a run a was not in');
  t.same(await series(m, 'dbcast_receiver_clock_offset_seconds', 'nightly'), {}, 'b measured no offset this time; a was absent');

  // Runs without a receiver list (no report, a receiver's own run, a skipped run) change nothing.
  m.record({ ...sendRun('nightly', T0 + 2 * DAY, []), report: null, ok: false, note: 'dump failed' });
  m.record({ ...sendRun('nightly', T0 + 2 * DAY, []), role: 'receive', report: { bytesDelivered: 10 } });
  m.record({ ...sendRun('nightly', T0 + 2 * DAY, []), exitCode: null, ok: false, note: 'skipped: the previous run is still going' });
  t.same(m.receiversOf('nightly'), ['a', 'b']);
  t.same(await series(m, 'dbcast_receiver_ok', 'nightly'), { a: 0, b: 1 });
});

t.test('a receiver missing for a week and 3 runs is dropped; either alone is not enough', async (t) => {
  t.equal(RECEIVER_SERIES_TTL_MS, 7 * DAY);
  t.equal(RECEIVER_SERIES_MISSED_RUNS, 3);

  // Every 5 minutes: dozens of missed runs within a day do not drop it.
  const frequent = new DaemonMetrics();
  frequent.record(sendRun('often', T0, [{ name: 'gone' }, { name: 'stays' }]));
  for (let i = 1; i <= 288; i++) frequent.record(sendRun('often', T0 + i * 5 * 60_000, [{ name: 'stays' }]));
  t.same(frequent.receiversOf('often'), ['gone', 'stays'], '288 missed runs in a day: still there, reading 0');
  t.equal((await series(frequent, 'dbcast_receiver_ok', 'often')).gone, 0);

  // Weekly: the first missed run comes a week later; it is kept until it has missed 3.
  const weekly = new DaemonMetrics();
  weekly.record(sendRun('weekly', T0, [{ name: 'gone' }, { name: 'stays' }]));
  for (let w = 1; w < RECEIVER_SERIES_MISSED_RUNS; w++) {
    weekly.record(sendRun('weekly', T0 + w * 7 * DAY, [{ name: 'stays' }]));
    t.same(weekly.receiversOf('weekly'), ['gone', 'stays'], `week ${w}: missed ${w} run(s), kept`);
  }
  weekly.record(sendRun('weekly', T0 + RECEIVER_SERIES_MISSED_RUNS * 7 * DAY, [{ name: 'stays' }]));
  t.same(weekly.receiversOf('weekly'), ['stays'], 'missed 3 runs over 3 weeks: dropped');
  t.same(await series(weekly, 'dbcast_receiver_ok', 'weekly'), { stays: 1 });
  t.same(await series(weekly, 'dbcast_receiver_repairs_requested', 'weekly'), { stays: 0 });
  t.same(await series(weekly, 'dbcast_receiver_clock_offset_seconds', 'weekly'), { stays: 0.005 });

  // Daily: dropped at the first run at least a week after it was last seen, not before.
  const daily = new DaemonMetrics();
  daily.record(sendRun('daily', T0, [{ name: 'back' }, { name: 'gone' }]));
  for (let d = 1; d < 7; d++) daily.record(sendRun('daily', T0 + d * DAY, []));
  t.same(daily.receiversOf('daily'), ['back', 'gone'], '6 days away: kept');
  daily.record(sendRun('daily', T0 + 7 * DAY, [{ name: 'back' }]));
  t.same(daily.receiversOf('daily'), ['back'], 'back after a week is fresh again; gone is dropped');
  t.same(await series(daily, 'dbcast_receiver_ok', 'daily'), { back: 1 });
});

t.test(`at most ${MAX_RECEIVER_SERIES_PER_JOB} receivers per job, the least recently seen go first`, async (t) => {
  const m = new DaemonMetrics();
  m.record(sendRun('other', T0, [{ name: 'x' }]));
  // Each run brings 100 new names (renamed hosts, a misconfigured fleet): 500 names in 5 runs.
  for (let run = 0; run < 5; run++) {
    m.record(sendRun('big', T0 + run * HOUR, Array.from({ length: 100 }, (_, i) => ({ name: `r${run * 100 + i}` }))));
  }
  const names = m.receiversOf('big');
  t.equal(names.length, MAX_RECEIVER_SERIES_PER_JOB);
  t.same(names.slice(-100), Array.from({ length: 100 }, (_, i) => `r${400 + i}`), 'the latest run is all there');
  t.notOk(names.includes('r0'), 'the oldest went first');
  t.equal(Object.keys(await series(m, 'dbcast_receiver_ok', 'big')).length, MAX_RECEIVER_SERIES_PER_JOB, 'series match the bound');
  t.same(await series(m, 'dbcast_receiver_ok', 'other'), { x: 1 }, "another job's receivers are its own");

  // A receiver seen again moves to the back of the queue.
  const again = new DaemonMetrics();
  again.record(sendRun('j', T0, Array.from({ length: MAX_RECEIVER_SERIES_PER_JOB }, (_, i) => ({ name: `r${i}` }))));
  again.record(sendRun('j', T0 + HOUR, [{ name: 'r0' }, { name: 'new' }]));
  t.ok(again.receiversOf('j').includes('r0'), 'r0 was seen in the latest run: kept');
  t.notOk(again.receiversOf('j').includes('r1'), 'r1, the least recently seen, made room');
  t.equal(again.receiversOf('j').length, MAX_RECEIVER_SERIES_PER_JOB);
});

t.test('label values are escaped in the exposition; a damaged receiver line is skipped', async (t) => {
  const m = new DaemonMetrics();
  m.record(sendRun('nightly', T0, [{ name: 'a"b\\c\nd' }]));
  const rec = sendRun('nightly', T0 + HOUR, [{ name: 'ok' }]);
  (rec.report as { receivers: unknown[] }).receivers.push({ outcome: 'ok' }, null);
  t.doesNotThrow(() => m.record(rec), 'a line without a name does not throw out of record()');
  const text = await m.registry.metrics();
  t.match(text, 'dbcast_receiver_ok{dbcast_job="nightly",receiver="a\\"b\\\\c\\nd"} 0');
  for (const line of text.split('\n')) {
    if (line && !line.startsWith('#')) t.match(line, /^[a-z_]+\{[^\n]*\} -?[\d.e+-]+$/, 'one sample per line');
  }
});

/** Every sample of one metric as "label=value,...": value (labels sorted), for exact comparisons. */
async function samples(m: DaemonMetrics, metric: string): Promise<Record<string, number>> {
  const g = m.registry.getSingleMetric(metric);
  if (!g) throw new Error(`no metric ${metric}`);
  const out: Record<string, number> = {};
  for (const v of (await g.get()).values) {
    out[Object.entries(v.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}=${String(x)}`).join(',')] = v.value;
  }
  return out;
}

t.test('runs are counted by result; a degraded run is not a success; skipped and missed runs apart', async (t) => {
  const m = new DaemonMetrics('9.9.9');
  m.record(sendRun('nightly', T0, [{ name: 'a', repairs: 1 }]));
  // A degraded run: the sender's exit 10, ok false, result written by the job runner.
  m.record({ ...sendRun('nightly', T0 + DAY, [{ name: 'a' }, { name: 'b', outcome: 'missing' }]), exitCode: 10, ok: false, result: 'degraded', note: 'b: never-joined' });
  m.record({ ...sendRun('nightly', T0 + 2 * DAY, [], false), report: null, note: 'exit 5, no report' });
  m.record({ ...sendRun('nightly', T0 + 2 * DAY + HOUR, [], false), exitCode: null, report: null, note: 'skipped: the previous run is still going' });
  m.record({ ...sendRun('nightly', T0 + 3 * DAY, []), role: 'receive', report: { bytesDelivered: 500, repairsRequested: 7 } });
  t.same(await samples(m, 'dbcast_runs_total'), {
    'dbcast_job=nightly,result=ok,role=send': 1, 'dbcast_job=nightly,result=degraded,role=send': 1, 'dbcast_job=nightly,result=failed,role=send': 1,
    'dbcast_job=nightly,result=ok,role=receive': 1,
  });
  m.record({ ...sendRun('nightly', T0 + 2 * DAY + HOUR, [], false), exitCode: null, report: null, result: 'missed', note: 'missed: the daemon was not running for the run at ...' });
  t.same(await samples(m, 'dbcast_runs_not_started_total'), { 'dbcast_job=nightly,reason=skipped,role=send': 1, 'dbcast_job=nightly,reason=missed,role=send': 1 });
  t.same(await samples(m, 'dbcast_bytes_total'), { 'dbcast_job=nightly,role=send': 2000, 'dbcast_job=nightly,role=receive': 500 }, 'two sender reports of 1000 bytes');
  t.same(await samples(m, 'dbcast_repairs_total'), { 'dbcast_job=nightly,role=send': 6, 'dbcast_job=nightly,role=receive': 7 });
  t.same(await samples(m, 'dbcast_last_success_timestamp_seconds'), { 'dbcast_job=nightly,role=send': T0 / 1000, 'dbcast_job=nightly,role=receive': (T0 + 3 * DAY) / 1000 }, 'the degraded run did not move the last success');
  t.same(await samples(m, 'dbcast_last_run_ok'), { 'dbcast_job=nightly,role=send': 0, 'dbcast_job=nightly,role=receive': 1 });
  t.same(await samples(m, 'dbcast_last_run_timestamp_seconds'), { 'dbcast_job=nightly,role=send': (T0 + 2 * DAY) / 1000, 'dbcast_job=nightly,role=receive': (T0 + 3 * DAY) / 1000 }, 'a skipped or missed run is not the last run');

  // Older records carry no result: exit 10 reads failed there (what the daemon said then), never ok.
  const old = new DaemonMetrics();
  old.record({ ...sendRun('j', T0, []), exitCode: 10, ok: false, note: 'degraded' });
  t.same(await samples(old, 'dbcast_runs_total'), { 'dbcast_job=j,result=failed,role=send': 1 });

  // Seeding from runs.jsonl at start sets the last-run gauges, not the counters.
  const seeded = new DaemonMetrics();
  seeded.seed(sendRun('j', T0, [{ name: 'a' }]));
  t.same(await samples(seeded, 'dbcast_runs_total'), {}, 'no run counted at start');
  t.same(await samples(seeded, 'dbcast_last_success_timestamp_seconds'), { 'dbcast_job=j,role=send': T0 / 1000 });
  t.same(await samples(seeded, 'dbcast_receiver_ok'), { 'dbcast_job=j,receiver=a': 1 });
});

t.test('build info, next run and run in progress follow the watched jobs', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  t.equal(packageVersion(), pkg.version, "packageVersion() finds dbcast's package.json");
  const m = new DaemonMetrics();
  t.same(await samples(m, 'dbcast_build_info'), { [`nodejs_version=${process.versions.node},version=${pkg.version}`]: 1 });
  t.same(await samples(m, 'dbcast_next_run_timestamp_seconds'), {}, 'no jobs watched: no series');

  let jobs = [
    { job: 'nightly', role: 'send', nextRunMs: T0 + DAY, running: true },
    { job: 'nightly', role: 'receive', nextRunMs: null, running: false }, // always listening, between sessions
  ];
  m.watch(() => jobs);
  t.same(await samples(m, 'dbcast_next_run_timestamp_seconds'), { 'dbcast_job=nightly,role=send': (T0 + DAY) / 1000 }, 'an unscheduled job has no next run');
  t.same(await samples(m, 'dbcast_run_in_progress'), { 'dbcast_job=nightly,role=send': 1, 'dbcast_job=nightly,role=receive': 0 });
  const zero: Record<string, number> = {};
  for (const role of ['send', 'receive']) for (const result of RUN_RESULTS) zero[`dbcast_job=nightly,result=${result},role=${role}`] = 0;
  t.same(await samples(m, 'dbcast_runs_total'), zero, 'every configured job has its counters at 0 before its first run');

  // A reload: the removed job's gauges go, the new one's come.
  jobs = [{ job: 'weekly', role: 'send', nextRunMs: T0 + 7 * DAY, running: false }];
  t.same(await samples(m, 'dbcast_next_run_timestamp_seconds'), { 'dbcast_job=weekly,role=send': (T0 + 7 * DAY) / 1000 });
  t.same(await samples(m, 'dbcast_run_in_progress'), { 'dbcast_job=weekly,role=send': 0 });
});

t.test('a receiver that stops coming keeps its last-seen time, which goes stale', async (t) => {
  const m = new DaemonMetrics();
  m.record(sendRun('nightly', T0, [{ name: 'a' }, { name: 'b' }]));
  m.record(sendRun('nightly', T0 + DAY, [{ name: 'b' }, { name: 'a', outcome: 'missing', offsetMs: null }]));
  t.same(await series(m, 'dbcast_receiver_last_seen_timestamp_seconds', 'nightly'), { a: T0 / 1000, b: (T0 + DAY) / 1000 }, 'a missing row does not count as seen');
  t.same(await series(m, 'dbcast_receiver_ok', 'nightly'), { a: 0, b: 1 });
  t.same(await series(m, 'dbcast_receiver_repairs_requested', 'nightly'), { b: 0 }, 'no repairs series for a run a never joined');
  m.record(sendRun('nightly', T0 + 2 * DAY, [{ name: 'b' }]));
  t.same(await series(m, 'dbcast_receiver_last_seen_timestamp_seconds', 'nightly'), { a: T0 / 1000, b: (T0 + 2 * DAY) / 1000 }, 'not listed at all: still the old time');
  for (let d = 3; d <= 8; d++) m.record(sendRun('nightly', T0 + d * DAY, [{ name: 'b' }]));
  t.same(Object.keys(await series(m, 'dbcast_receiver_last_seen_timestamp_seconds', 'nightly')), ['b'], 'aged out with its other series');
});

const hasPromtool = !spawnSync('promtool', ['--version']).error;
if (!hasPromtool && process.env.CI) t.fail('promtool missing in CI (.ci/run installs the Debian package prometheus)');
const noPromtool = hasPromtool || process.env.CI ? false : 'promtool not installed (Debian: apt-get install prometheus): the exposition is not checked';

t.test('the live endpoint passes promtool check metrics', { skip: noPromtool }, async (t) => {
  const m = new DaemonMetrics();
  m.watch(() => [{ job: 'nightly', role: 'send', nextRunMs: T0 + DAY, running: false }, { job: 'archive', role: 'receive', nextRunMs: null, running: true }]);
  m.record(sendRun('nightly', T0, [{ name: 'a"b\\c\nd', repairs: 4, offsetMs: -250 }, { name: 'gone', outcome: 'missing', offsetMs: null }]));
  m.record({ ...sendRun('nightly', T0 + DAY, [{ name: 'a"b\\c\nd' }]), exitCode: 10, ok: false, result: 'degraded', note: 'degraded' });
  m.record({ ...sendRun('nightly', T0 + DAY, []), report: { totalBytes: 5, dropped: { 'bad-crc': 3 } }, exitCode: 4, ok: false, note: 'failed' });
  m.record({ ...sendRun('nightly', T0 + DAY, [], false), exitCode: null, note: 'skipped: the previous run is still going' });
  const server = await m.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => { server.close(); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.equal((await fetch(`${base}/other`)).status, 404);
  const res = await fetch(`${base}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const body = await res.text();
  for (const name of ['dbcast_runs_total', 'dbcast_bytes_total', 'dbcast_repairs_total', 'dbcast_build_info', 'dbcast_next_run_timestamp_seconds', 'dbcast_run_in_progress', 'dbcast_receiver_last_seen_timestamp_seconds', 'dbcast_last_run_dropped_packets']) {
    t.match(body, new RegExp(`^${name}\\{`, 'm'), `${name} is served`);
  }
  t.notMatch(body, /[{,]job=/, 'no label named job (Prometheus would rename it exported_job)');
  const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  t.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  t.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint findings');
});
