// Log lines as monitoring reads them: under journald (stderr is the stream JOURNAL_STREAM names)
// each line starts with its syslog priority; text to a file gets ISO times (not with
// DBCAST_LOG_TIMESTAMPS=0, not under journald); a child whose stderr merely inherits
// JOURNAL_STREAM gets no prefix. And the progress line is wiped before a log line is written
// on the same terminal. The one-shot runs bind sockets: run under the tests' lock.
import t from 'tap';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, tempDir } from './helpers/dbcast';
import { createLogger } from '../runtime/log';
import { startProgress } from '../runtime/progress';

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
