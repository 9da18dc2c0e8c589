// `dbcast run JOB --config FILE` (what systemd/dbcast-run@.service starts): one configured job,
// once, through the daemon's job runner. Exit code of the run, a run record in the state-dir,
// a scheduled receiver listening for its window only, and exit 2 naming the config's jobs.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, dbcast, randomFile, sha256File, tempDir } from './helpers/dbcast';
import { readRuns } from '../src/run-history';

const NET = 'defaults:\n  interface: 127.0.0.1\n  group: 239.255.42.31\n  port: 9831\n';

function config(dir: string, name: string, jobs: string): string {
  const stateDir = path.join(dir, `state-${name}`);
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `state-dir: ${stateDir}\n${NET}jobs:\n${jobs}`);
  return file;
}

t.test('a job the config lacks, or a name both roles use: exit 2 naming the jobs', async (t) => {
  const dir = tempDir(t);
  const file = config(dir, 'both', `  - role: send
    job: app
    schedule: "0 2 * * *"
    command: "true"
  - role: receive
    job: app
    output: ${dir}/app.dump
  - role: receive
    job: other
    output: ${dir}/other.dump
`);
  const run = (...args: string[]) => spawnSync(process.execPath, [BIN, 'run', ...args, '--config', file], { encoding: 'utf8' });
  const nope = run('nope');
  t.equal(nope.status, 2);
  t.match(nope.stderr, /has no job named nope; its jobs: send app, receive app, receive other/);
  const both = run('app');
  t.equal(both.status, 2);
  t.match(both.stderr, /both a send and a receive job named app; add --role send or --role receive/);
  const wrongRole = run('other', '--role', 'send');
  t.equal(wrongRole.status, 2);
  t.match(wrongRole.stderr, /has no send job named other/);
  const badRole = run('app', '--role', 'sned');
  t.equal(badRole.status, 2, 'yargs refuses a role outside send, receive');
  t.same(readRuns(path.join(dir, 'state-both')), [], 'no run record for a refused run');
});

t.test('a send job nobody joins: the run\'s exit code (3) and its run record', async (t) => {
  const dir = tempDir(t);
  const file = config(dir, 'send', `  - role: send
    job: lonely
    schedule: "0 2 * * *"
    command: head -c 1000 /dev/zero
    min-receivers: 1
    max-wait-sec: 1
`);
  const r = await dbcast(['run', 'lonely', '--config', file], { timeoutMs: 60_000 }).done;
  t.equal(r.code, 3, r.stderr);
  t.match(r.stderr, /send job 'lonely': run failed \(exit 3\)/, 'the summary line');
  const runs = readRuns(path.join(dir, 'state-send'));
  t.equal(runs.length, 1, 'one run record');
  t.match(runs[0], { job: 'lonely', role: 'send', exitCode: 3, ok: false });
});

t.test('a scheduled receive job listens for its window (open-before-sec + window-sec), then exits 3', async (t) => {
  const dir = tempDir(t);
  const file = config(dir, 'window', `  - role: receive
    job: quiet
    schedule: "0 2 * * *"
    open-before-sec: 1
    window-sec: 2
    output: ${dir}/quiet.dump
`);
  const startedMs = Date.now();
  const r = await dbcast(['run', 'quiet', '--config', file], { timeoutMs: 60_000 }).done;
  const tookMs = Date.now() - startedMs;
  t.equal(r.code, 3, `no session within the window: ${r.stderr}`);
  t.ok(tookMs >= 3000, `listened for the 3 s window (${tookMs} ms)`);
  t.match(readRuns(path.join(dir, 'state-window')), [{ job: 'quiet', role: 'receive', exitCode: 3 }]);
});

t.test('a send and a receive job, each run once: exit 0, the bytes arrive, a record on each side', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'input.bin');
  const hash = randomFile(input, 2_000_000);
  const out = path.join(dir, 'got.dump');
  const recv = config(dir, 'recv', `  - role: receive
    job: nightly
    name: replica
    output: ${out}
`);
  const send = config(dir, 'send', `  - role: send
    job: nightly
    schedule: "0 2 * * *"
    command: cat ${input}
    min-receivers: 1
    max-wait-sec: 30
`);
  const rx = dbcast(['run', 'nightly', '--config', recv], { timeoutMs: 90_000 });
  const tx = dbcast(['run', 'nightly', '--config', send], { timeoutMs: 90_000 });
  const [s, r] = await Promise.all([tx.done, rx.done]);
  t.equal(s.code, 0, s.stderr);
  t.equal(r.code, 0, r.stderr);
  t.equal(sha256File(out), hash, 'the receiver has the exact input');
  t.match(readRuns(path.join(dir, 'state-send')), [{ job: 'nightly', role: 'send', exitCode: 0, ok: true }]);
  t.match(readRuns(path.join(dir, 'state-recv')), [{ job: 'nightly', role: 'receive', exitCode: 0, ok: true }]);
});
