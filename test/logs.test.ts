// Log lines as monitoring reads them: under journald (stderr is the stream JOURNAL_STREAM names)
// each line starts with its syslog priority; text to a file gets ISO times (not with
// DBCAST_LOG_TIMESTAMPS=0, not under journald); a child whose stderr merely inherits
// JOURNAL_STREAM gets no prefix. And the progress line is wiped before a log line is written
// on the same terminal; the daemon's summary line per run. The one-shot runs bind sockets: run
// under the tests' lock.
import t from 'tap';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, tempDir } from './helpers/dbcast';
import { createLogger } from '../runtime/log';
import { startProgress } from '../runtime/progress';
import { runSummary } from '../src/daemon/run-summary';

/** A receiver nobody sends to: an info line, then an error line, exit 3; stderr into a file. */
function quietReceive(dir: string, name: string, env: (file: string) => NodeJS.ProcessEnv): Promise<string> {
  const file = path.join(dir, `${name}.log`);
  const fd = fs.openSync(file, 'w');
  const child = spawn(process.execPath, [BIN, 'receive', '--job', 'quiet', '--interface', '127.0.0.1', '--group', '239.255.42.34', '--port', '9834',
    '--output', path.join(dir, 'x.dump'), '--start-timeout-sec', '1'], { stdio: ['ignore', 'ignore', fd], env: env(file) });
  fs.closeSync(fd);
  return new Promise((resolve) => child.on('close', (code) => resolve(`${code}\n${fs.readFileSync(file, 'utf8')}`)));
}

const streamOf = (file: string): string => { const st = fs.statSync(file); return `${st.dev}:${st.ino}`; };

t.test('journald: a priority prefix on every line; files: ISO times', async (t) => {
  const dir = tempDir(t);
  const base = { ...process.env };
  delete base.JOURNAL_STREAM;
  delete base.DBCAST_LOG_TIMESTAMPS;
  delete base.INVOCATION_ID;

  const [code, ...journal] = (await quietReceive(dir, 'journal', (f) => ({ ...base, JOURNAL_STREAM: streamOf(f) }))).trim().split('\n');
  t.equal(code, '3');
  t.match(journal[0], /^<6>dbcast receive: listening for job 'quiet'/, 'info: <6>, and no time (journald stamps it)');
  t.ok(journal.some((l) => /^<3>dbcast receive: error: no-session: /.test(l)), `error: <3>:\n${journal.join('\n')}`);
  t.ok(journal.every((l) => /^<[3-7]>/.test(l)), 'every line has one');

  const [, ...file] = (await quietReceive(dir, 'file', () => ({ ...base, JOURNAL_STREAM: '1:1' }))).trim().split('\n');
  t.match(file[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z dbcast receive: listening/, 'a file: ISO time; JOURNAL_STREAM naming another stream: no prefix');
  t.ok(file.every((l) => /^\d{4}-\d\d-\d\dT/.test(l)), 'on every line');

  const [, ...plain] = (await quietReceive(dir, 'plain', () => ({ ...base, DBCAST_LOG_TIMESTAMPS: '0' }))).trim().split('\n');
  t.match(plain[0], /^dbcast receive: listening/, 'DBCAST_LOG_TIMESTAMPS=0: no time');
});

t.test('the progress line is cleared before a log line on the same terminal', async (t) => {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean };
  const wasTTY = stderr.isTTY;
  const write = stderr.write;
  let out = '';
  stderr.isTTY = true;
  stderr.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof stderr.write;
  try {
    const stop = startProgress(() => 'PROGRESS 1.0 MiB');
    const log = createLogger('send', 'info', 'text');
    const end = Date.now() + 10_000;
    while (!out.includes('PROGRESS') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    t.match(out, /PROGRESS/, 'the progress line was drawn');
    out = '';
    log.info('receiver a joined');
    log.info('receiver b joined');
    t.equal(out, '\r\x1b[Kdbcast send: receiver a joined\ndbcast send: receiver b joined\n', 'cleared once, before the first line; the next line starts clean already');
    out = '';
    stop();
    t.equal(out, '', 'nothing left to clear when stopping right after a log line');
  } finally {
    stderr.write = write;
    stderr.isTTY = wasTTY;
  }
});

t.test("the daemon's summary line: size, duration, receivers ok of expected, restore outcomes", async (t) => {
  const rx = (name: string, outcome: string, restore: string | null) => ({ name, outcome, restore });
  const send = runSummary({
    job: 'nightly', role: 'send', startedAt: '2026-12-02T02:00:00.000Z', endedAt: '2026-12-02T02:00:42.340Z', exitCode: 10, ok: false, result: 'degraded', runId: 'r1',
    note: 'degraded: archive never joined',
    report: { sessionId: 'ab12', totalBytes: 3 * 1048576, expectedReceivers: 3, receivers: [rx('a', 'ok', 'swapped'), rx('b', 'ok', 'swapped'), rx('archive', 'missing', null)] },
  });
  t.equal(send.text, 'run degraded (exit 10) in 42.3 s, 3.0 MiB, receivers 2/3 ok, restore swapped 2: degraded: archive never joined');
  t.same(send.fields, { job: 'nightly', role: 'send', runId: 'r1', result: 'degraded', exitCode: 10, durationSec: 42.3, session: 'ab12', bytes: 3 * 1048576, receiversOk: 2, receiversExpected: 3, restore: { swapped: 2 } });

  // More receivers than --min-receivers asked for: expected is at least those that came.
  const more = runSummary({ job: 'j', role: 'send', startedAt: '2026-12-02T02:00:00Z', endedAt: '2026-12-02T02:00:01Z', exitCode: 0, ok: true, result: 'ok', note: 'ok',
    report: { totalBytes: 0, expectedReceivers: 1, receivers: [rx('a', 'ok', null), rx('b', 'ok', null)] } });
  t.equal(more.text, 'run succeeded (exit 0) in 1.0 s, 0.0 MiB, receivers 2/2 ok', 'no note and no restore part when ok without presets');

  const recv = runSummary({ job: 'j', role: 'receive', startedAt: '2026-12-02T02:00:00Z', endedAt: '2026-12-02T02:00:05Z', exitCode: 7, ok: false, result: 'failed', note: 'sink-failed: pg_restore exit 1',
    report: { sessionId: 'cd34', bytesDelivered: 1048576, restore: 'kept-old' } });
  t.equal(recv.text, 'run failed (exit 7) in 5.0 s, 1.0 MiB, restore kept-old: sink-failed: pg_restore exit 1');
  t.match(recv.fields, { session: 'cd34', bytes: 1048576, restore: 'kept-old' });
  t.notOk('receiversOk' in recv.fields, 'a receiver has no receiver counts');

  const killed = runSummary({ job: 'j', role: 'send', startedAt: '2026-12-02T02:00:00Z', endedAt: '2026-12-02T02:00:02Z', exitCode: null, ok: false, result: 'failed', note: 'killed by SIGTERM', report: null }, 'SIGTERM');
  t.equal(killed.text, 'run failed (exit SIGTERM) in 2.0 s: killed by SIGTERM');
});
