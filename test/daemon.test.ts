// A real daemon pair on loopback: the sender's daemon runs a job on a cron schedule a few
// seconds ahead, an always-listening receiver and a scheduled one (window around the run)
// archive it; run records land in each state-dir and `dbcast status` reports them. Also: a run
// still going when the next is due is recorded as skipped; SIGHUP reloads (and keeps the old
// config when the new one is bad); SIGTERM stops cleanly.
import t from 'tap';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, LISTENING, sleep, tempDir } from './helpers/dbcast';
import { readRuns } from '../src/run-history';

const NET = (port: number) => `defaults:\n  interface: 127.0.0.1\n  group: 239.255.42.12\n  port: ${port}\n`;

function daemon(config: string) {
  const child = spawn(process.execPath, [BIN, 'daemon', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void done.then(() => clearTimeout(killer));
  return { child, done, stderr: () => stderr };
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

t.test('scheduled send, always-listening and windowed receivers, run records, status', async (t) => {
  const dir = tempDir(t);
  const [sd, rd, wd, arch] = ['s', 'r', 'w', 'arch'].map((d) => { fs.mkdirSync(path.join(dir, d)); return path.join(dir, d); });
  fs.writeFileSync(path.join(dir, 'send.yaml'), `state-dir: ${sd}\nmetrics-listen: 127.0.0.1:9819\n${NET(9811)}jobs:
  - role: send
    job: nightly
    schedule: "*/4 * * * * *"
    command: head -c 3000000 /dev/urandom
    min-receivers: 2
    max-wait-sec: 3
  - role: send
    job: slow
    schedule: "*/2 * * * * *"
    command: "true"
    min-receivers: 1
    max-wait-sec: 5
`);
  // verbose: the daemon passes on its receive run's own lines, "listening for job" among them.
  fs.writeFileSync(path.join(dir, 'always.yaml'), `state-dir: ${rd}\nlog-level: verbose\n${NET(9811)}jobs:
  - role: receive
    job: nightly
    name: always
    output: ${arch}/always-{timestamp}.dump
    keep: 2
`);
  fs.writeFileSync(path.join(dir, 'window.yaml'), `state-dir: ${wd}\n${NET(9811)}jobs:
  - role: receive
    job: nightly
    name: windowed
    schedule: "*/4 * * * * *"
    open-before-sec: 1
    window-sec: 2
    output: ${arch}/windowed-{timestamp}.dump
`);
  const rx = daemon(path.join(dir, 'always.yaml'));
  const wx = daemon(path.join(dir, 'window.yaml'));
  await until('the always-listening receiver listens', () => LISTENING.test(rx.stderr()), 30_000);
  await until('the windowed daemon armed its window', () => /next window/.test(wx.stderr()), 30_000);
  const sx = daemon(path.join(dir, 'send.yaml'));
  const okRuns = (d: string, job = 'nightly') => readRuns(d).filter((r) => r.ok && r.job === job).length;
  let metrics = '';
  try {
    await until('two successful runs on every daemon', () => okRuns(sd) >= 2 && okRuns(rd) >= 2 && okRuns(wd) >= 2);
    await until('a skipped run of the slow job', () => readRuns(sd).some((r) => r.job === 'slow' && r.note.startsWith('skipped')));
    await until('a finished (failed) run of the slow job', () => readRuns(sd).some((r) => r.job === 'slow' && !r.note.startsWith('skipped')));
    metrics = await (await fetch('http://127.0.0.1:9819/metrics')).text();
  } finally {
    for (const d of [sx, rx, wx]) d.child.kill('SIGTERM');
  }
  const codes = await Promise.all([sx.done, rx.done, wx.done]);
  t.same(codes, [0, 0, 0], 'SIGTERM: every daemon exits 0', { stderr: sx.stderr() + rx.stderr() + wx.stderr() });
  for (const d of [sd, rd, wd]) t.notOk(fs.existsSync(path.join(d, 'daemon.pid')), 'lock removed');

  const send = readRuns(sd).find((r) => r.ok && r.job === 'nightly');
  const report = send?.report as { totalBytes: number; receivers: Array<{ name: string; outcome: string; clockOffsetMs: number | null }> };
  t.equal(report.totalBytes, 3_000_000, 'the run record carries the sender report');
  t.same(report.receivers.map((x) => x.name).sort(), ['always', 'windowed']);
  t.ok(report.receivers.every((x) => x.outcome === 'ok' && typeof x.clockOffsetMs === 'number'), 'each receiver ok, with its clock offset');
  // Each receive job remembers the sessions it took (a replay of one is refused).
  const sentIds = readRuns(sd).filter((r) => r.ok && r.job === 'nightly').map((r) => (r.report as { sessionId: string }).sessionId);
  const seenIds = fs.readFileSync(path.join(rd, 'seen-sessions-nightly.txt'), 'utf8').trim().split('\n');
  t.ok(seenIds.length > 0 && seenIds.every((id) => sentIds.includes(id)), `the always-listening receiver recorded ${seenIds.length} session(s), each one the sender ran`);
  const archives = fs.readdirSync(arch);
  t.equal(archives.filter((f) => /^always-\d{8}T\d{6}Z\.dump$/.test(f)).length, 2, 'retention: 2 or more runs archived, 2 archives kept (keep: 2)');
  t.ok(archives.some((f) => f.startsWith('windowed-')), 'the windowed receiver archived too');

  t.match(metrics, /dbcast_last_success_timestamp_seconds\{dbcast_job="nightly",role="send"\} \d+/, 'metrics: last success per job');
  t.match(metrics, /dbcast_receiver_ok\{dbcast_job="nightly",receiver="windowed"\} 1/, 'metrics: per receiver');
  t.match(metrics, /dbcast_receiver_last_seen_timestamp_seconds\{dbcast_job="nightly",receiver="windowed"\} \d+/, 'metrics: when each receiver was last seen');
  t.match(metrics, /dbcast_last_run_ok\{dbcast_job="slow",role="send"\} 0/, 'metrics: the failing job');
  t.match(metrics, /dbcast_last_run_bytes\{dbcast_job="nightly",role="send"\} 3000000/);
  t.match(metrics, /dbcast_runs_total\{dbcast_job="nightly",role="send",result="ok"\} [1-9]\d*/, 'metrics: runs counted by result');
  t.match(metrics, /dbcast_runs_total\{dbcast_job="slow",role="send",result="failed"\} [1-9]\d*/);
  t.match(metrics, /dbcast_runs_not_started_total\{dbcast_job="slow",role="send",reason="skipped"\} [1-9]\d*/);
  t.match(metrics, /dbcast_next_run_timestamp_seconds\{dbcast_job="nightly",role="send"\} \d+/, 'metrics: next run of a scheduled job');
  t.match(metrics, /dbcast_build_info\{version="[^"]+",nodejs_version="[^"]+"\} 1/);
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  if (promtool.error && !process.env.CI) t.comment('promtool not installed (Debian: apt-get install prometheus): the live exposition is not checked');
  else t.equal(promtool.status, 0, `promtool check metrics on the live daemon: ${promtool.stdout}${promtool.stderr}`);

  const st = spawnSync(process.execPath, [BIN, 'status', '--state-dir', sd], { encoding: 'utf8' });
  t.equal(st.status, 2, 'status exits 2 (CRITICAL): the slow job failed (nobody came)');
  t.match(st.stdout, /^OK +send nightly: last success \d+ s ago/m);
  t.match(st.stdout, /^CRITICAL send slow: last run failed .*last success never/m);
  const sr = spawnSync(process.execPath, [BIN, 'status', '--state-dir', rd, '--max-age-hours', '1'], { encoding: 'utf8' });
  t.equal(sr.status, 0, `receiver status healthy:\n${sr.stdout}`);
  t.notMatch(sr.stdout, /interrupted/, 'a receiver stopped while listening leaves no failed run');
});

t.test('SIGHUP reloads a good config and keeps the old one when the new one is bad', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'd.yaml');
  const cfg = (schedule: string) => `state-dir: ${dir}\n${NET(9812)}jobs:\n  - role: send\n    job: hup\n    schedule: "${schedule}"\n    command: "true"\n    max-wait-sec: 1\n`;
  fs.writeFileSync(file, cfg('0 3 * * *'));
  const d = daemon(file);
  await until('start', () => /daemon started/.test(d.stderr()), 20_000);
  fs.writeFileSync(file, cfg('0 4 * * *'));
  d.child.kill('SIGHUP');
  await until('reload', () => /config reloaded, 1 job/.test(d.stderr()), 20_000);
  t.match(d.stderr(), /scheduled "0 4 \* \* \*"/, 'the new schedule is in force');
  fs.writeFileSync(file, cfg('0 99 * * *'));
  d.child.kill('SIGHUP');
  await until('refusal', () => /keeping the running config/.test(d.stderr()), 20_000);
  t.match(d.stderr(), /line 9: jobs\[0\]\.schedule/, 'the bad key and line are logged');
  const second = daemon(file);
  t.equal(await second.done, 2, 'a daemon with the bad config does not start (exit 2)');
  d.child.kill('SIGTERM');
  t.equal(await d.done, 0);
});
