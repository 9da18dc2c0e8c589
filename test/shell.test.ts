// As operators run it: every case is a script under /bin/sh, and what stands between dbcast
// and its producer or consumer is the shell's own `|`, `<` or `>` — a real pipe or file, never
// one of Node's spawn stdio pipes (socket pairs, which hid the EAGAIN bug fixed in 891f1fb).
// Multicast on 127.0.0.1 (no root); ports 9710-9749, one port and job per case. Every process
// is bounded by `timeout` in its script and by a kill timer; the sender starts once the
// receiver said it listens (its log), never after a fixed sleep.
import t, { type Test } from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { randomFile, sha256File, tempDir } from './helpers/dbcast';
import { DBCAST, q, readCode, readText, sh, shaOf, waitForFile, type Script } from './helpers/shell';
import { postgresMissing, startPostgres, type Server } from './db/servers';

const GROUP = '239.255.47.1';
/** Seconds `timeout` gives each dbcast process; the kill timer of a script allows a little more. */
const LIMIT_SEC = 90;
const SCRIPT_MS = (LIMIT_SEC + 20) * 1000;

const net = (port: number, job: string): string => `--interface 127.0.0.1 --group ${GROUP} --port ${port} --job ${q(job)}`;
const bounded = (cmd: string, sec = LIMIT_SEC): string => `timeout -k 5 ${sec} ${cmd}`;
/** `dbcast receive` as the first word of a pipeline stage (its stderr is the script's business). */
const receive = (port: number, job: string, name: string, extra = ''): string =>
  bounded(`${DBCAST} receive ${net(port, job)} --name ${q(name)} --start-timeout-sec 60 ${extra}`);
const send = (port: number, job: string, receivers: number, extra = ''): string =>
  bounded(`${DBCAST} send ${net(port, job)} --min-receivers ${receivers} --max-wait-sec 60 ${extra}`);

/** The sender's own summary: "N bytes in S s (R MiB/s)". */
const rateOf = (log: string): string => /bytes in [\d.]+ s \([\d.]+ MiB\/s\)/.exec(log)?.[0] ?? '(no summary line)';

interface Outcome { receivers: Awaited<Script['done']>[]; sender: Awaited<Script['done']>; seconds: number }

/**
 * Start the receiver scripts (each must send dbcast's stderr to its log), wait until every log
 * says "listening for job", then run the sender script; resolves when all scripts ended.
 */
async function transfer(dir: string, receivers: { script: string; log: string }[], sender: string, timeoutMs = SCRIPT_MS): Promise<Outcome> {
  const rx = receivers.map((r) => sh(r.script, { cwd: dir, timeoutMs }));
  try {
    await Promise.all(receivers.map((r, i) => waitForFile(path.join(dir, r.log), /listening for job/, 30_000, rx[i].done)));
  } catch (err) {
    rx.forEach((r) => r.kill());
    throw err;
  }
  const started = Date.now();
  const tx = sh(sender, { cwd: dir, timeoutMs });
  const [s, ...rs] = await Promise.all([tx.done, ...rx.map((r) => r.done)]);
  return { sender: s, receivers: rs, seconds: (Date.now() - started) / 1000 };
}

/** Nothing was killed by a timer: every script ended on its own. */
function ended(t: Test, o: Outcome): void {
  t.notOk(o.sender.timedOut || o.receivers.some((r) => r.timedOut), 'every script ended on its own (no kill timer fired)');
}

const logs = (dir: string, ...files: string[]): Record<string, string> =>
  Object.fromEntries(files.map((f) => [f, readText(path.join(dir, f))]));

t.test('1. dbcast receive | sha256sum, dbcast send < file: byte-exact, both exit 0', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 16 << 20);
  const o = await transfer(dir,
    [{ script: `{ ${receive(9711, 'sh-sum', 'r1')} 2> r.log; echo $? > rcode; } | sha256sum > got`, log: 'r.log' }],
    `${send(9711, 'sh-sum', 1)} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'r.log', 's.log');
  t.equal(readCode(path.join(dir, 'rcode')), 0, 'receiver exit 0', l);
  t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
  t.equal(shaOf(path.join(dir, 'got')), hash, 'sha256sum on the pipe saw the exact stream');
  t.comment(`16 MiB into | sha256sum: ${rateOf(l['s.log'])}`);
});

t.test('2. stdin a pipe (cat in | dbcast send) and a file (dbcast send < in)', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 8 << 20);
  for (const [port, job, producer] of [[9712, 'sh-stdin-pipe', 'cat in | '], [9713, 'sh-stdin-file', '']] as const) {
    const tag = job.replace('sh-', '');
    const o = await transfer(dir,
      [{ script: `{ ${receive(port, job, 'r1')} 2> ${tag}.r.log; echo $? > ${tag}.rcode; } | sha256sum > ${tag}.got`, log: `${tag}.r.log` }],
      `${producer}${send(port, job, 1)} ${producer ? '' : '< in'} 2> ${tag}.s.log; echo $? > ${tag}.scode`);
    ended(t, o);
    const l = logs(dir, `${tag}.r.log`, `${tag}.s.log`);
    t.equal(readCode(path.join(dir, `${tag}.rcode`)), 0, `${tag}: receiver exit 0`, l);
    t.equal(readCode(path.join(dir, `${tag}.scode`)), 0, `${tag}: sender exit 0`, l);
    t.equal(shaOf(path.join(dir, `${tag}.got`)), hash, `${tag}: byte-exact`);
  }
});

t.test('3a. dbcast receive | cat > out: byte-exact', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 8 << 20);
  const o = await transfer(dir,
    [{ script: `{ ${receive(9714, 'sh-cat', 'r1')} 2> r.log; echo $? > rcode; } | cat > out`, log: 'r.log' }],
    `${send(9714, 'sh-cat', 1)} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'r.log', 's.log');
  t.equal(readCode(path.join(dir, 'rcode')), 0, 'receiver exit 0', l);
  t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
  t.equal(sha256File(path.join(dir, 'out')), hash, 'out is byte-exact');
});

t.test('3b. a slow reader (64 KiB, nap, 64 KiB, ...): backpressure, byte-exact, nobody fails', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 16 << 20);
  // head -c reads at most 64 KiB off the pipe; an empty chunk is the end of the stream.
  const slow = 'while :; do head -c 65536 > chunk; [ -s chunk ] || break; cat chunk; sleep 0.01; done';
  const o = await transfer(dir,
    [{ script: `{ ${receive(9715, 'sh-slow', 'r1')} 2> r.log; echo $? > rcode; } | { ${slow}; } > out`, log: 'r.log' }],
    `${send(9715, 'sh-slow', 1)} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'r.log', 's.log');
  t.equal(readCode(path.join(dir, 'rcode')), 0, 'receiver exit 0', l);
  t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
  t.equal(sha256File(path.join(dir, 'out')), hash, 'out is byte-exact');
  t.comment(`16 MiB into a slow reader: ${rateOf(l['s.log'])}, ${o.seconds.toFixed(1)} s wall`);
});

t.test('4. a reader that stalls longer than the idle timeout, then reads on: byte-exact, exit 0', async (t) => {
  const dir = tempDir(t);
  // More than the pipe, the socket buffers and the receiver's reorder buffer hold at once.
  const hash = randomFile(path.join(dir, 'in'), 24 << 20);
  const o = await transfer(dir,
    [{ script: `{ ${receive(9716, 'sh-stall', 'r1', '--idle-timeout-sec 3')} 2> r.log; echo $? > rcode; } | { sleep 8; cat; } > out`, log: 'r.log' }],
    `${send(9716, 'sh-stall', 1, '--idle-timeout-sec 3')} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'r.log', 's.log');
  t.equal(readCode(path.join(dir, 'rcode')), 0, 'receiver exit 0', l);
  t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
  t.equal(fs.existsSync(path.join(dir, 'out')) ? sha256File(path.join(dir, 'out')) : 'no output', hash, 'out is byte-exact', l);
  // The premise, not a timing target: the session was live while nothing was drained for longer
  // than the idle timeout on both sides (if buffers ever hold all 24 MiB, raise the size).
  const transferSec = Number(/bytes in ([\d.]+) s/.exec(l['s.log'])?.[1] ?? 0);
  t.ok(transferSec > 3, `the transfer lasted ${transferSec} s, more than --idle-timeout-sec 3: the stall happened mid-session`);
  t.comment(`24 MiB through an 8 s stall: ${rateOf(l['s.log'])}, ${o.seconds.toFixed(1)} s wall`);
});

t.test('5. a reader that exits early (| head -c 1000): receiver exit 7, sender exit 4, said plainly, nothing hangs', async (t) => {
  const dir = tempDir(t);
  randomFile(path.join(dir, 'in'), 8 << 20);
  const o = await transfer(dir,
    [{ script: `{ ${receive(9717, 'sh-early', 'early', '--idle-timeout-sec 5')} 2> r.log; echo $? > rcode; } | head -c 1000 > /dev/null`, log: 'r.log' }],
    `${send(9717, 'sh-early', 1, '--idle-timeout-sec 5')} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'r.log', 's.log');
  t.equal(readCode(path.join(dir, 'rcode')), 7, 'receiver exit 7 (a sink failed)', l);
  t.equal(readCode(path.join(dir, 'scode')), 4, 'sender exit 4 (a receiver failed)', l);
  t.match(l['r.log'], /stdout closed by the reader/, 'the receiver says what happened');
  t.notMatch(l['r.log'], /undefined/, 'no "undefined" in the receiver\'s log');
  t.notMatch(l['r.log'], /^ {4}at /m, 'no stack trace in the receiver\'s log');
  t.notMatch(l['s.log'], /^ {4}at /m, 'no stack trace in the sender\'s log');
  t.match(l['s.log'], /^\s+early@\S+\s+failed\s+sink-failed\b.*stdout closed by the reader/m, 'the sender\'s report row says so');
  t.ok(o.seconds < 60, `both ended in ${o.seconds.toFixed(1)} s`);
});

t.test('6. --pipe with a real pipe inside, and a --pipe child writing to our stdout', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 8 << 20);
  const got = path.join(dir, 'got');
  const o = await transfer(dir, [
    { script: `${receive(9718, 'sh-pipe', 'to-sum', `--pipe ${q(`sha256sum > ${q(got)}`)}`)} 2> a.log; echo $? > acode`, log: 'a.log' },
    { script: `${receive(9718, 'sh-pipe', 'to-cat', '--pipe cat')} > out 2> b.log; echo $? > bcode`, log: 'b.log' },
  ], `${send(9718, 'sh-pipe', 2)} < in 2> s.log; echo $? > scode`);
  ended(t, o);
  const l = logs(dir, 'a.log', 'b.log', 's.log');
  t.equal(readCode(path.join(dir, 'acode')), 0, '--pipe "sha256sum > got": exit 0', l);
  t.equal(readCode(path.join(dir, 'bcode')), 0, '--pipe cat > out: exit 0', l);
  t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
  t.equal(shaOf(got), hash, 'the pipe inside --pipe saw the exact stream');
  t.equal(sha256File(path.join(dir, 'out')), hash, 'the --pipe child\'s stdout, forwarded to ours, is byte-exact');
});

t.test('7. real pipes on the sender: --command "cat in | cat", and head | tee | dbcast send', async (t) => {
  const dir = tempDir(t);
  const hash = randomFile(path.join(dir, 'in'), 8 << 20);
  const cases = [
    { port: 9719, job: 'sh-command', tag: 'command', sender: (s: string) => `${s} --command 'cat in | cat' < /dev/null` },
    { port: 9720, job: 'sh-tee', tag: 'tee', sender: (s: string) => `head -c ${12 << 20} /dev/urandom | tee teed | ${s}` },
  ];
  for (const c of cases) {
    const o = await transfer(dir,
      [{ script: `{ ${receive(c.port, c.job, 'r1')} 2> ${c.tag}.r.log; echo $? > ${c.tag}.rcode; } | sha256sum > ${c.tag}.got`, log: `${c.tag}.r.log` }],
      `${c.sender(send(c.port, c.job, 1))} 2> ${c.tag}.s.log; echo $? > ${c.tag}.scode`);
    ended(t, o);
    const l = logs(dir, `${c.tag}.r.log`, `${c.tag}.s.log`);
    t.equal(readCode(path.join(dir, `${c.tag}.rcode`)), 0, `${c.tag}: receiver exit 0`, l);
    t.equal(readCode(path.join(dir, `${c.tag}.scode`)), 0, `${c.tag}: sender exit 0`, l);
    const want = c.tag === 'tee' ? sha256File(path.join(dir, 'teed')) : hash;
    t.equal(shaOf(path.join(dir, `${c.tag}.got`)), want, `${c.tag}: byte-exact`);
  }
  t.equal(fs.statSync(path.join(dir, 'teed')).size, 12 << 20, 'tee saw the whole input');
});

// PostgreSQL through shell pipes. Same rule as postgres.test.ts: outside CI a missing server skips.
t.test('PostgreSQL: pg_dump -Fc | dbcast send, dbcast receive | pg_restore; a pg_restore that dies', async (t) => {
  const missing = postgresMissing();
  if (missing) {
    if (process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${missing}`);
    else t.plan(0, `PostgreSQL tests skipped: ${missing}`);
    return;
  }
  const pg: Server = startPostgres();
  t.teardown(() => pg.stop());
  pg.sql('postgres', 'CREATE DATABASE src');
  pg.sql('postgres', 'CREATE DATABASE dst');
  // A few MB of dump (hex does not compress much): more than the pipe and socket buffers, so a
  // pg_restore that dies is noticed while the stream is still coming.
  pg.sql('src', `
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, payload text);
    INSERT INTO items SELECT g, 'item ' || g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 100000) g;
    CREATE TABLE tags (item_id int REFERENCES items(id), tag text);
    INSERT INTO tags SELECT g, 'tag' || (g % 17) FROM generate_series(1, 100000, 3) g;`);
  const print = (db: string): string => ['items', 'tags'].map((tb) =>
    pg.sql(db, `SELECT '${tb}:' || count(*) || '/' || md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM ${tb} t`).trim()).join(' ');
  const want = print('src');
  const conn = `-h ${q(pg.host)} -p ${pg.port} -U ${pg.user}`;
  const dir = tempDir(t);

  await t.test('pg_dump -Fc src | dbcast send; dbcast receive | pg_restore -d dst', async (t) => {
    const o = await transfer(dir,
      [{ script: `{ ${receive(9721, 'sh-pg', 'replica')} 2> r.log; echo $? > rcode; } | pg_restore ${conn} -d dst 2> restore.log; echo $? > pcode`, log: 'r.log' }],
      `pg_dump -Fc ${conn} src | ${send(9721, 'sh-pg', 1)} 2> s.log; echo $? > scode`);
    ended(t, o);
    const l = logs(dir, 'r.log', 's.log', 'restore.log');
    t.equal(readCode(path.join(dir, 'rcode')), 0, 'receiver exit 0', l);
    t.equal(readCode(path.join(dir, 'pcode')), 0, 'pg_restore exit 0', l);
    t.equal(readCode(path.join(dir, 'scode')), 0, 'sender exit 0', l);
    t.equal(print('dst'), want, `dst equals src (${want})`);
  });

  await t.test('| pg_restore -d nonexistent_db: pg_restore dies, receiver exit 7, sender exit 4, nothing hangs', async (t) => {
    const o = await transfer(dir,
      [{ script: `{ ${receive(9722, 'sh-pg-dies', 'doomed', '--idle-timeout-sec 5')} 2> d.r.log; echo $? > d.rcode; } | pg_restore ${conn} -d nonexistent_db 2> d.restore.log; echo $? > d.pcode`, log: 'd.r.log' }],
      `pg_dump -Fc ${conn} src | ${send(9722, 'sh-pg-dies', 1, '--idle-timeout-sec 5')} 2> d.s.log; echo $? > d.scode`);
    ended(t, o);
    const l = logs(dir, 'd.r.log', 'd.s.log', 'd.restore.log');
    t.not(readCode(path.join(dir, 'd.pcode')), 0, 'pg_restore failed', l);
    t.match(l['d.restore.log'], /nonexistent_db/, 'pg_restore says why');
    t.equal(readCode(path.join(dir, 'd.rcode')), 7, 'receiver exit 7', l);
    t.match(l['d.r.log'], /stdout closed by the reader/, 'the receiver says what happened');
    t.notMatch(l['d.r.log'], /^ {4}at /m, 'no stack trace');
    t.equal(readCode(path.join(dir, 'd.scode')), 4, 'sender exit 4', l);
    t.match(l['d.s.log'], /^\s+doomed@\S+\s+failed\s+sink-failed\b.*stdout closed by the reader/m, 'the sender\'s report row says so');
    t.ok(o.seconds < 60, `both ended in ${o.seconds.toFixed(1)} s`);
  });
});
