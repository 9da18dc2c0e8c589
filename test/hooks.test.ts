// Job hooks: runHook itself (environment, exit status, the timeout killing the hook's whole
// process group), and through `dbcast run` (the daemon's job runner): on-failure after a failed
// run and on-success after a transfer, with DBCAST_* facts and the run's report; a failing or
// hanging hook is logged and never changes the run's result. JSON log lines carry the run's
// fields. Uses sockets: run under the tests' lock.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, tempDir } from './helpers/dbcast';
import { runHook } from '../src/daemon/hooks';
import { parseConfig } from '../src/config';
import { readRuns } from '../src/run-history';

const NET = 'defaults:\n  interface: 127.0.0.1\n  group: 239.255.42.33\n  port: 9833\n';

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The JSON log lines of a run's stderr. */
const jsonLines = (stderr: string): Array<Record<string, unknown>> =>
  stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('runHook: environment and exit status; the timeout kills the whole group', async (t) => {
  const ok = await runHook('echo "$DBCAST_JOB/$DBCAST_RESULT"; exit 3', { DBCAST_JOB: 'nightly', DBCAST_RESULT: 'failed' }, 10_000);
  t.match(ok, { exitCode: 3, signal: null, timedOut: false, error: null, output: 'nightly/failed' });

  const dir = tempDir(t);
  const pidFile = path.join(dir, 'bg.pid');
  // A hook that leaves a grandchild behind and hangs: both go at the timeout.
  const hung = await runHook(`sleep 60 & echo $! > ${pidFile}; echo waiting; wait`, {}, 1000);
  t.equal(hung.timedOut, true);
  t.equal(hung.signal, 'SIGTERM');
  t.ok(hung.durationMs >= 1000 && hung.durationMs < 10_000, `ended at the timeout (${hung.durationMs.toFixed(0)} ms)`);
  t.equal(hung.output, 'waiting', 'its output is kept for the log');
  const bg = Number(fs.readFileSync(pidFile, 'utf8'));
  await until('the background sleep to be gone', () => !alive(bg));
  t.pass('the grandchild in its process group was killed too');
});

t.test('config: hook keys per job or in defaults, messages naming the key', async (t) => {
  const base = (extra: string, defaults = '') => `${NET}${defaults}jobs:\n  - role: send\n    job: j\n    schedule: "0 2 * * *"\n    command: "true"\n${extra}`;
  const c = parseConfig(base('    on-failure: /usr/local/bin/page\n    hook-timeout-sec: 5\n', '  on-success: echo fine\n'), 'd.yaml');
  t.same(c.jobs[0].hooks, { onSuccess: 'echo fine', onFailure: '/usr/local/bin/page', timeoutMs: 5000 });
  t.same(parseConfig(base(''), 'd.yaml').jobs[0].hooks, { onSuccess: null, onFailure: null, timeoutMs: 60_000 }, 'none by default, 60 s timeout');
  t.throws(() => parseConfig(base('    on-failure: ""\n'), 'd.yaml'), /jobs\[0\]\.on-failure: expected a shell command/);
  t.throws(() => parseConfig(base('    on-success: [a, b]\n'), 'd.yaml'), /jobs\[0\]\.on-success: expected a shell command .*got \["a","b"\]/);
  t.throws(() => parseConfig(base('    hook-timeout-sec: 0\n'), 'd.yaml'), /jobs\[0\]\.hook-timeout-sec: expected whole seconds from 1 to 3600, got 0/);
  t.throws(() => parseConfig(base('    hook-timeout-sec: soon\n'), 'd.yaml'), /hook-timeout-sec: expected whole seconds from 1 to 3600, got "soon"/);
});

t.test('dbcast run: a failed run calls on-failure with the facts; a failing hook leaves the result alone', async (t) => {
  const dir = tempDir(t);
  const state = path.join(dir, 'state');
  const envFile = path.join(dir, 'env.txt');
  const file = path.join(dir, 'd.yaml');
  fs.writeFileSync(file, `state-dir: ${state}\nlog-format: json\n${NET}jobs:
  - role: send
    job: lonely
    schedule: "0 2 * * *"
    command: head -c 1000 /dev/zero
    min-receivers: 1
    max-wait-sec: 1
    on-success: touch ${dir}/success-ran
    on-failure: 'env | grep ^DBCAST_ | sort > ${envFile}; cp "$DBCAST_REPORT" ${dir}/report.json; echo paging failed >&2; exit 7'
`);
  const r = await dbcast(['run', 'lonely', '--config', file], { timeoutMs: 60_000 }).done;
  t.equal(r.code, 3, 'the run\'s own exit code (nobody joined), not the hook\'s 7');
  const runs = readRuns(state);
  t.equal(runs.length, 1);
  t.match(runs[0], { result: 'failed', exitCode: 3, runId: /^\d{8}T\d{6}Z-[0-9a-f]{6}$/ });
  const env = Object.fromEntries(fs.readFileSync(envFile, 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  t.match(env, {
    DBCAST_JOB: 'lonely', DBCAST_ROLE: 'send', DBCAST_RUN_ID: runs[0].runId, DBCAST_EXIT_CODE: '3', DBCAST_RESULT: 'failed',
    DBCAST_REPORT: new RegExp(`^${state}/hook-report-`), DBCAST_NOTE: /not-enough-receivers/,
  });
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as { job: string; abortReason: string };
  t.match(report, { job: 'lonely', abortReason: 'not-enough-receivers' }, 'DBCAST_REPORT is the run\'s report');
  t.same(fs.readdirSync(state).filter((f) => f.includes('report')), [], 'the report kept for the hook is gone afterwards');
  t.notOk(fs.existsSync(path.join(dir, 'success-ran')), 'on-success did not run');

  const lines = jsonLines(r.stderr);
  const summary = lines.find((l) => /run failed \(exit 3\)/.test(String(l.message)));
  t.match(summary, { level: 'error', component: 'run', job: 'lonely', role: 'send', runId: runs[0].runId, result: 'failed', exitCode: 3, receiversOk: 0, receiversExpected: 1, bytes: Number }, 'the summary line\'s fields');
  const hook = lines.find((l) => /on-failure hook/.test(String(l.message)));
  t.match(hook, { level: 'error', message: /on-failure hook failed \(exit 7\) after [\d.]+ s: paging failed/, runId: runs[0].runId, hookExitCode: 7 });
});

t.test('dbcast run: a transfer calls on-success with its report; a hook past its timeout is killed, the run stays ok', async (t) => {
  const dir = tempDir(t);
  const state = path.join(dir, 'state');
  const file = path.join(dir, 'd.yaml');
  fs.writeFileSync(file, `state-dir: ${state}\nlog-format: json\n${NET}jobs:
  - role: send
    job: fine
    schedule: "0 2 * * *"
    command: head -c 300000 /dev/urandom
    receivers: rx1
    max-wait-sec: 20
    hook-timeout-sec: 1
    on-success: 'cp "$DBCAST_REPORT" ${dir}/report.json; echo "$DBCAST_RESULT $DBCAST_EXIT_CODE" > ${dir}/result.txt; sleep 60'
`);
  const rx = dbcast(['receive', '--job', 'fine', '--name', 'rx1', '--interface', '127.0.0.1', '--group', '239.255.42.33', '--port', '9833',
    '--output', path.join(dir, 'got.dump'), '--start-timeout-sec', '30'], { timeoutMs: 60_000 });
  await rx.stderrMatch(/listening for job 'fine'/);
  const r = await dbcast(['run', 'fine', '--config', file], { timeoutMs: 60_000 }).done;
  t.equal((await rx.done).code, 0, 'the receiver got it');
  t.equal(r.code, 0, `the run's exit code: ${r.stderr}`);
  t.equal(fs.readFileSync(path.join(dir, 'result.txt'), 'utf8'), 'ok 0\n');
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as { totalBytes: number; receivers: Array<{ name: string; outcome: string }> };
  t.equal(report.totalBytes, 300_000);
  t.match(report.receivers, [{ name: 'rx1', outcome: 'ok' }]);
  const lines = jsonLines(r.stderr);
  t.match(lines.find((l) => /run succeeded/.test(String(l.message))), { level: 'info', result: 'ok', exitCode: 0, bytes: 300_000, receiversOk: 1, receiversExpected: 1, session: /^[0-9a-f]{16}$/ });
  t.match(lines.find((l) => /on-success hook/.test(String(l.message))), { level: 'error', message: /on-success hook killed after hook-timeout-sec 1/, hookTimedOut: true });
  t.match(readRuns(state), [{ result: 'ok', ok: true }], 'the record says ok');
});
