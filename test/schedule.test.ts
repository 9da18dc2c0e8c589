// The in-daemon scheduler's DST rule, with a fake clock driving the daemon's own timer code
// (src/daemon/schedule.ts): a time in the spring-forward gap runs right after the gap, a time
// in the repeated fall-back hour runs once; runs missed while the daemon was down are reported
// once, and `catch-up: true` runs the job once however many were missed (a real daemon).
import t from 'tap';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nextRunAt, nextRuns, scheduleRuns, wallAt, type Timers } from '../src/daemon/schedule';
import { missedRecord, missedRuns } from '../src/daemon/missed-runs';
import { appendRun, readRuns, type RunRecord } from '../src/run-history';
import { BIN, tempDir } from './helpers/dbcast';

const iso = (ms: number): string => new Date(ms).toISOString();
const at = (s: string): number => Date.parse(s);

/** Timers on a clock the test moves: each due timer fires at its own time, in order. */
function fakeTimers(startMs: number): Timers & { advanceTo(ms: number): void } {
  let now = startMs;
  let pending: { fn: () => void; dueMs: number } | null = null;
  return {
    now: () => now,
    set: (fn, delayMs) => { pending = { fn, dueMs: now + delayMs }; return pending; },
    clear: (h) => { if (pending === h) pending = null; },
    advanceTo(ms: number) {
      while (pending && pending.dueMs <= ms) {
        const p: { fn: () => void; dueMs: number } = pending;
        pending = null;
        now = p.dueMs;
        p.fn();
      }
      now = ms;
    },
  };
}

/** The times onRun was called while the fake clock ran from `fromIso` to `toIso`. */
function runTimes(expression: string, tz: string, fromIso: string, toIso: string): string[] {
  const clock = fakeTimers(at(fromIso));
  const ran: string[] = [];
  const s = scheduleRuns(expression, tz, () => ran.push(iso(clock.now())), clock);
  clock.advanceTo(at(toIso));
  s.destroy();
  return ran;
}

t.test('spring forward: a time in the gap runs right after it, once', async (t) => {
  // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:00 does not exist.
  t.same(runTimes('0 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z'),
    ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z'], '02:00 runs at 03:00 CEST that day, at 02:00 CEST the next');
  t.same(runTimes('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z'), ['2026-03-29T01:00:00.000Z'], '02:30 also runs at the gap\'s end');
  // Every 30 min: 02:00 and 02:30 (in the gap) and 03:00 are one run at 03:00 CEST.
  t.same(runTimes('*/30 * * * *', 'Europe/Berlin', '2026-03-29T00:10:00Z', '2026-03-29T01:40:00Z'),
    ['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z']);
  // Another zone and date: New York, 2026-03-08, 02:00 EST becomes 03:00 EDT (07:00 UTC).
  t.same(nextRuns('30 2 * * *', 'America/New_York', at('2026-03-07T12:00:00Z'), 2).map(iso), ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
  // A half-hour shift: Lord Howe Island, 2026-10-04, 02:00 becomes 02:30.
  t.same(nextRuns('15 2 * * *', 'Australia/Lord_Howe', at('2026-10-03T00:00:00Z'), 2).map(iso), ['2026-10-03T15:30:00.000Z', '2026-10-04T15:15:00.000Z']);
  t.equal(new Date(wallAt(at('2026-03-29T01:00:00Z'), 'Europe/Berlin')).toISOString(), '2026-03-29T03:00:00.000Z', 'the gap ends at 03:00 wall time');
});

t.test('fall back: a time in the repeated hour runs once, at its first occurrence', async (t) => {
  // Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-02:59 happen twice.
  t.same(runTimes('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z'),
    ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'], '02:30 CEST, not again at 02:30 CET');
  const hourly = runTimes('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', '2026-10-25T02:30:00Z');
  // 02:00 CEST (00:00 UTC) runs; 02:00 CET (01:00 UTC) is its repeat; 03:00 CET (02:00 UTC) runs.
  t.same(hourly, ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z'], 'hourly: 02:00 runs once; the repeated hour has no second run');
  t.equal(new Set(hourly).size, hourly.length, 'no time twice');
});

t.test('the timer: a late wake-up runs once, an early one waits; nextRunAt for metrics', async (t) => {
  const clock = fakeTimers(at('2026-06-01T00:00:00Z'));
  const ran: number[] = [];
  const s = scheduleRuns('0 2 * * *', 'UTC', () => ran.push(clock.now()), clock);
  t.equal(s.getNextRun()?.toISOString(), '2026-06-01T02:00:00.000Z');
  // The host slept three days: the overdue timer fires once, then the schedule goes on from now.
  let fire: (() => void) | null = null;
  const sleepy: Timers = { now: clock.now, set: (fn) => { fire = fn; return fn; }, clear: () => { fire = null; } };
  const s2 = scheduleRuns('0 2 * * *', 'UTC', () => ran.push(-1), sleepy);
  clock.advanceTo(at('2026-06-04T10:00:00Z'));
  t.same(ran.filter((x) => x > 0).map(iso), ['2026-06-01T02:00:00.000Z', '2026-06-02T02:00:00.000Z', '2026-06-03T02:00:00.000Z', '2026-06-04T02:00:00.000Z'], 'the awake timer ran each day');
  (fire as unknown as () => void)();
  t.equal(ran.filter((x) => x === -1).length, 1, 'the sleeping one runs once for three missed days');
  t.equal(s2.getNextRun()?.toISOString(), '2026-06-05T02:00:00.000Z');
  s.destroy(); s2.destroy();
  // The wall clock was set back an hour after arming: the timer fires "early" and waits again.
  let now = at('2026-06-01T00:00:00Z');
  const armed: Array<() => void> = [];
  const stepped: Timers = { now: () => now, set: (fn) => { armed.push(fn); return fn; }, clear: () => undefined };
  const early: number[] = [];
  scheduleRuns('0 2 * * *', 'UTC', () => early.push(now), stepped);
  now = at('2026-06-01T01:00:00Z');
  armed[armed.length - 1]();
  t.same(early, [], 'an hour early: no run');
  t.equal(armed.length, 2, 're-armed');
  now = at('2026-06-01T02:00:00Z');
  armed[armed.length - 1]();
  t.same(early.map(iso), ['2026-06-01T02:00:00.000Z']);
  t.equal(nextRunAt({ schedule: '0 2 * * *', timezone: 'Europe/Berlin' }, at('2026-03-28T12:00:00Z'))?.toISOString(), '2026-03-29T01:00:00.000Z');
  t.equal(nextRunAt({ schedule: null, timezone: undefined }), null, 'a receiver listening at all times has no next run');
});

const JOB = { job: 'nightly', role: 'send' as const, schedule: '0 2 * * *', timezone: 'Europe/Berlin' };
const rec = (startedAt: string, extra: Partial<RunRecord> = {}): RunRecord => ({
  job: 'nightly', role: 'send', startedAt, endedAt: startedAt, exitCode: 0, ok: true, result: 'ok', note: 'ok', report: null, ...extra,
});

t.test('missed runs: counted from the last record, reported once', async (t) => {
  const history = [rec('2026-03-01T01:00:01Z'), rec('2026-03-01T01:00:00Z', { job: 'other' })];
  const now = at('2026-03-04T12:00:00Z');
  const m = missedRuns(JOB, history, now);
  t.ok(m);
  if (!m) return;
  t.equal(m.count, 3, '2, 3 and 4 March at 02:00 CET');
  t.equal(iso(m.firstMs), '2026-03-02T01:00:00.000Z');
  t.equal(iso(m.lastMs), '2026-03-04T01:00:00.000Z');
  const r = missedRecord(JOB, m, now, false);
  t.equal(r.result, 'missed');
  t.equal(r.ok, false);
  t.match(r.note, /^missed: the daemon was not running for 3 runs from 2026-03-02T01:00:00.000Z to 2026-03-04T01:00:00.000Z$/);
  t.equal(missedRuns(JOB, [...history, r], now), null, 'once recorded, the next start does not report them again');
  t.equal(missedRuns(JOB, [], now), null, 'a job without records has missed nothing');
  t.equal(missedRuns(JOB, history, at('2026-03-02T00:59:59Z')), null, 'before the next run time: nothing missed');
  t.equal(missedRuns({ ...JOB, schedule: null }, history, now), null, 'an always-listening receiver has no schedule to miss');
  // The spring-forward gap's run is a run like any other.
  t.equal(missedRuns(JOB, [rec('2026-03-28T01:00:05Z')], at('2026-03-29T01:00:30Z'))?.count, 1);
});

/** A daemon on loopback (sockets: run under the tests' lock). */
function daemon(config: string) {
  const child = spawn(process.execPath, [BIN, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); for (const w of [...waiters]) w(); });
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void done.then(() => clearTimeout(killer));
  const waitFor = (re: RegExp): Promise<void> => new Promise((resolve, reject) => {
    const check = (): void => { if (re.test(stderr)) { waiters.splice(waiters.indexOf(check), 1); resolve(); } };
    waiters.push(check);
    void done.then(() => { if (!re.test(stderr)) reject(new Error(`daemon exited before ${re}:\n${stderr}`)); });
    check();
  });
  return { child, done, waitFor, stderr: () => stderr };
}

t.test('a daemon reports runs missed while it was down; catch-up: true runs the job once', async (t) => {
  const dir = tempDir(t);
  const config = (catchUp: boolean, stateDir: string): string => {
    fs.mkdirSync(stateDir, { recursive: true });
    const file = path.join(dir, `${path.basename(stateDir)}.yaml`);
    // Yearly, so no scheduled run falls inside the test; the last run three years back.
    fs.writeFileSync(file, `state-dir: ${stateDir}\ntimezone: UTC\ndefaults:\n  interface: 127.0.0.1\n  group: 239.255.42.14\n  port: 9841\njobs:
  - role: send
    job: nightly
    schedule: "0 2 1 1 *"
    command: "true"
    min-receivers: 1
    max-wait-sec: 1
${catchUp ? '    catch-up: true\n' : ''}`);
    const year = new Date().getUTCFullYear();
    appendRun(stateDir, rec(`${year - 3}-01-01T02:00:01Z`));
    return file;
  };

  const plain = daemon(config(false, path.join(dir, 'plain')));
  await plain.waitFor(/daemon started/);
  plain.child.kill('SIGTERM');
  t.equal(await plain.done, 0);
  // 1 January 02:00 of the last two years, and of this one once it has passed.
  const year = new Date().getUTCFullYear();
  const missed = Date.now() > Date.UTC(year, 0, 1, 2) ? 3 : 2;
  t.match(plain.stderr(), new RegExp(`send job 'nightly': missed: the daemon was not running for ${missed} runs from .*\\(catch-up: true would run it once at start\\)`));
  t.notMatch(plain.stderr(), /run starts/, 'without catch-up nothing runs');
  t.same(readRuns(path.join(dir, 'plain')).map((r) => r.result), ['ok', 'missed']);

  const sd = path.join(dir, 'catchup');
  const file = config(true, sd);
  const first = daemon(file);
  await first.waitFor(/run failed/); // no receiver joined within max-wait-sec
  first.child.kill('SIGTERM');
  t.equal(await first.done, 0);
  t.match(first.stderr(), new RegExp(`missed: the daemon was not running for ${missed} runs .*catch-up: running once now`));
  t.equal(first.stderr().match(/run starts/g)?.length, 1, `one run for ${missed} missed`);
  t.same(readRuns(sd).map((r) => r.result), ['ok', 'missed', 'failed'], 'the missed record, then the catch-up run; nothing skipped');

  const again = daemon(file);
  await again.waitFor(/daemon started/);
  again.child.kill('SIGTERM');
  t.equal(await again.done, 0);
  t.notMatch(again.stderr(), /missed|run starts/, 'a restart reports nothing missed: the catch-up run was the last');
});
