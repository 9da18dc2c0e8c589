// Loopback integration tier: real dbcast processes, multicast on 127.0.0.1 (no root needed).
// Each test has its own port and job, so tests never hear each other.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { BIN, dbcast, listening, randomFile, sha256File, sleep, tempDir } from './helpers/dbcast';

/** Temp files of any name (they are .FILE.<random>.partial) left in dir. */
const partials = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.partial'));
const net = (port: number, job: string): string[] => ['--interface', '127.0.0.1', '--group', '239.255.42.7', '--port', String(port), '--job', job];

t.test('3 receivers x 64 MiB to --output: byte-exact, report says ok', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 64 << 20);
  const receivers = [1, 2, 3].map((i) => dbcast(['receive', ...net(9301, 'big'), '--name', `r${i}`, '--output', path.join(dir, `out${i}.dump`), '--start-timeout-sec', '30']));
  await listening(receivers);
  const started = Date.now();
  const send = dbcast(['send', ...net(9301, 'big'), '--min-receivers', '3', '--report', path.join(dir, 'report.json')], { stdinFile: input });
  const s = await send.done;
  const seconds = (Date.now() - started) / 1000;
  const rs = await Promise.all(receivers.map((r) => r.done));
  t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
  rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
  for (const i of [1, 2, 3]) {
    t.equal(sha256File(path.join(dir, `out${i}.dump`)), hash, `out${i} is byte-exact`);
    t.same(partials(dir), [], 'no partial left');
  }
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  t.equal(report.exitCode, 0);
  t.equal(report.sha256, hash);
  t.same(report.receivers.map((r: { outcome: string; sha256Ok: boolean }) => [r.outcome, r.sha256Ok]), [['ok', true], ['ok', true], ['ok', true]]);
  t.comment(`64 MiB to 3 receivers in ${seconds.toFixed(2)} s wall (${(64 / seconds).toFixed(1)} MiB/s incl. start)`);
});

t.test('stdout, --pipe and a failing --pipe beside --output', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 8 << 20);
  const a = dbcast(['receive', ...net(9302, 'sinks'), '--name', 'to-stdout'], { stdoutFile: path.join(dir, 'a.out') });
  const b = dbcast(['receive', ...net(9302, 'sinks'), '--name', 'to-pipe', '--pipe', `sha256sum > ${path.join(dir, 'b.sum')}`]);
  const c = dbcast(['receive', ...net(9302, 'sinks'), '--name', 'tee-and-bad-restore', '--output', path.join(dir, 'c.dump'), '--pipe', 'head -c 1000 >/dev/null; exit 3']);
  await listening([a, b, c]);
  const s = await dbcast(['send', ...net(9302, 'sinks'), '--min-receivers', '3', '--report', path.join(dir, 'r.json')], { stdinFile: input }).done;
  const [ra, rb, rc] = await Promise.all([a.done, b.done, c.done]);
  t.equal(ra.code, 0, 'exit code', { stderr: ra.stderr });
  t.equal(rb.code, 0, 'exit code', { stderr: rb.stderr });
  t.equal(rc.code, 7, 'the receiver whose restore failed exits 7', { stderr: rc.stderr });
  t.equal(s.code, 4, 'the sender reports a failed receiver with exit 4', { stderr: s.stderr });
  t.equal(sha256File(path.join(dir, 'a.out')), hash, 'stdout sink byte-exact');
  t.equal(fs.readFileSync(path.join(dir, 'b.sum'), 'utf8').split(' ')[0], hash, 'pipe sink saw the exact stream');
  t.equal(sha256File(path.join(dir, 'c.dump')), hash, 'the archive copy completed although the restore failed');
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
  const bad = report.receivers.find((r: { name: string }) => r.name === 'tee-and-bad-restore');
  t.equal(bad.outcome, 'failed');
  t.equal(bad.code, 'sink-failed');
  t.match(bad.detail, /--pipe/);
  t.equal(bad.sinkExitCode, 3, 'the restore command\'s exit status is in the report');
  t.match(s.stderr, /tee-and-bad-restore/);
});

t.test('a failing dump command aborts everyone, leaves no file, exits 5', async (t) => {
  const dir = tempDir(t);
  const rx = [1, 2].map((i) => dbcast(['receive', ...net(9303, 'abort'), '--output', path.join(dir, `o${i}.dump`)]));
  await listening(rx); // a sender that aborts before one joined would leave it listening for ever
  const cmd = 'head -c 3000000 /dev/urandom; echo "pg_dump: error: connection lost" >&2; exit 3';
  const s = await dbcast(['send', ...net(9303, 'abort'), '--min-receivers', '2', '--command', cmd]).done;
  const rs = await Promise.all(rx.map((r) => r.done));
  t.equal(s.code, 5, 'exit code', { stderr: s.stderr });
  t.match(s.stderr, /connection lost/, 'the command\'s stderr reaches the operator');
  for (const [i, r] of rs.entries()) {
    t.equal(r.code, 5, 'exit code', { stderr: r.stderr });
    t.match(r.stderr, /input-failed.*connection lost/, 'the receiver says why');
    t.notOk(fs.existsSync(path.join(dir, `o${i + 1}.dump`)), 'no final file');
    t.same(partials(dir), [], 'no partial file');
  }
});

t.test('a killed receiver is dropped; the others finish; the sender exits 4', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 48 << 20);
  const rx = [1, 2, 3].map((i) => dbcast(['receive', ...net(9304, 'kill'), '--name', `k${i}`, '--output', path.join(dir, `o${i}.dump`)]));
  await listening(rx);
  const send = dbcast(['send', ...net(9304, 'kill'), '--min-receivers', '3', '--max-rate-mbps', '100', '--idle-timeout-sec', '2', '--report', path.join(dir, 'r.json')], { stdinFile: input });
  await send.stderrMatch(/starting transfer/);
  await sleep(300); // part of the scenario: let data flow before the kill, so k3 dies mid-transfer
  rx[2].child.kill('SIGKILL');
  const s = await send.done;
  const rs = await Promise.all(rx.map((r) => r.done));
  t.equal(s.code, 4, 'exit code', { stderr: s.stderr });
  t.equal(rs[0].code, 0, 'k1 finishes', { stderr: rs[0].stderr });
  t.equal(rs[1].code, 0, 'k2 finishes', { stderr: rs[1].stderr });
  t.equal(sha256File(path.join(dir, 'o1.dump')), hash);
  t.equal(sha256File(path.join(dir, 'o2.dump')), hash);
  t.notOk(fs.existsSync(path.join(dir, 'o3.dump')), 'the killed receiver left no final file');
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
  const k3 = report.receivers.find((r: { name: string }) => r.name === 'k3');
  t.same([k3.outcome, k3.code], ['dropped', 'silent']);
});

t.test('a killed sender: receivers time out (exit 8), kill their restore, keep no file', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  randomFile(input, 48 << 20);
  const marker = path.join(dir, 'restore-finished');
  const rx = [1, 2].map((i) => dbcast(['receive', ...net(9307, 'sender-dies'), '--idle-timeout-sec', '2', '--output', path.join(dir, `o${i}.dump`),
    '--pipe', `cat >/dev/null && touch ${marker}`]));
  await listening(rx);
  const send = dbcast(['send', ...net(9307, 'sender-dies'), '--min-receivers', '2', '--max-rate-mbps', '100'], { stdinFile: input });
  await send.stderrMatch(/starting transfer/);
  await sleep(300); // part of the scenario: the sender dies mid-transfer, not before the first packet
  send.child.kill('SIGKILL');
  const rs = await Promise.all(rx.map((r) => r.done));
  for (const [i, r] of rs.entries()) {
    t.equal(r.code, 8, 'exit code', { stderr: r.stderr });
    t.match(r.stderr, /timeout: sender silent/);
    t.notOk(fs.existsSync(path.join(dir, `o${i + 1}.dump`)), 'no final file');
    t.same(partials(dir), [], 'no partial file');
  }
  t.notOk(fs.existsSync(marker), 'the restore command was killed, not given an end of file');
});

t.test('a slow restore slows the dump: sender memory stays bounded by the window', async (t) => {
  const dir = tempDir(t);
  // Reads 64 KiB, then naps: a consumer at roughly 30 MB/s.
  const slow = `${process.execPath} -e "process.stdin.on('data',()=>{process.stdin.pause();setTimeout(()=>process.stdin.resume(),2)})"`;
  const fast = dbcast(['receive', ...net(9306, 'slow'), '--name', 'fast', '--pipe', `sha256sum > ${path.join(dir, 'fast.sum')}`]);
  const slowRx = dbcast(['receive', ...net(9306, 'slow'), '--name', 'slow', '--pipe', slow]);
  await listening([fast, slowRx]);
  const bytes = 256 << 20;
  const s = await dbcast(['send', ...net(9306, 'slow'), '--min-receivers', '2', '--window-mib', '4', '--payload-bytes', '8192',
    '--command', `head -c ${bytes} /dev/zero`, '--report', path.join(dir, 'r.json')]).done;
  const [rf, rs] = await Promise.all([fast.done, slowRx.done]);
  t.equal(s.code, 0, 'exit code', { stderr: s.stderr });
  t.equal(rf.code, 0, 'fast receiver', { stderr: rf.stderr });
  t.equal(rs.code, 0, 'slow receiver', { stderr: rs.stderr });
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
  t.equal(report.totalBytes, bytes);
  // Measured plateau: 100-130 MiB whatever the stream size (GC slack); buffering the stream would exceed 256 MiB.
  t.ok(report.senderPeakRssBytes < 192 * 1048576, `sender peak RSS ${(report.senderPeakRssBytes / 1048576).toFixed(0)} MiB for a ${bytes >> 20} MiB stream with a 4 MiB window`);
});

t.test('nobody comes: sender and receiver exit 3', async (t) => {
  const s = await dbcast(['send', ...net(9305, 'lonely'), '--max-wait-sec', '1', '--command', 'echo hi']).done;
  t.equal(s.code, 3, 'exit code', { stderr: s.stderr });
  t.match(s.stderr, /not-enough-receivers/);
  const r = await dbcast(['receive', ...net(9305, 'nobody'), '--start-timeout-sec', '1']).done;
  t.equal(r.code, 3, 'exit code', { stderr: r.stderr });
  t.match(r.stderr, /no sender announced job 'nobody'/);
});

t.test('bad flags exit 2 and name the flag', async (t) => {
  const cases: [string[], RegExp][] = [
    [['send', '--port', '70000'], /--port: expected an integer from 1 to 65535/],
    [['send', '--group', '10.0.0.1'], /--group: expected an IPv4 multicast address/],
    [['send', '--min-receivers', '-1'], /--min-receivers: expected an integer from 1 to 256/],
    [['send', '--max-rate-mbps', 'fast'], /--max-rate-mbps: expected a number/],
    [['send', '--window-mib', '0'], /--window-mib/],
    [['send', '--payload-bytes', '99999'], /--payload-bytes/],
    [['receive', '--interface', 'no-such-if0'], /--interface: expected an interface/],
    [['receive', '--output', '/nonexistent-dir/x.dump'], /--output: expected a path in an existing, writable directory/],
    [['receive', '--idle-timeout-sec', '0'], /--idle-timeout-sec/],
    [['receive', '--frobnicate'], /unknown flag --frobnicate/],
    [[], /name a command/],
  ];
  for (const [args, msg] of cases) {
    const r = await dbcast(args).done;
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, msg, `${args.join(' ')} names the flag`);
  }
});

t.test('a progress line on a terminal, none in a pipe', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  randomFile(input, 24 << 20);
  const rx = dbcast(['receive', ...net(9308, 'progress'), '--output', path.join(dir, 'o.bin')]);
  await listening([rx]);
  // `script` gives the sender a pseudo-terminal as stderr; the rate cap makes the run last > 1 s.
  const tty = spawnSync('script', ['-qec', `${process.execPath} ${BIN} send ${net(9308, 'progress').join(' ')} --max-rate-mbps 80 < ${input}`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  const r = await rx.done;
  t.equal(tty.status, 0, 'sender exit 0', { output: tty.stdout });
  t.match(tty.stdout, /\r\x1b\[Kdbcast send: [\d.]+ MiB read, [\d.]+ MiB at every receiver, [\d.]+ MiB\/s, 1 receiver\(s\) live, \d+ repairs/, 'progress line on the terminal');
  t.notMatch(r.stderr, /\x1b\[K/, 'the receiver writing to a pipe shows none');
});

t.test('keyed mode: the key holder gets the stream; a wrong key or no key gets nothing', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(64));
  fs.writeFileSync(input, Buffer.concat([marker, fs.readFileSync(__filename), marker]));
  const key = (name: string): string => { const f = path.join(dir, name); fs.writeFileSync(f, randomBytes(32)); fs.chmodSync(f, 0o600); return f; };
  const right = key('right.key'); const wrong = key('wrong.key');
  const ok = dbcast(['receive', ...net(9309, 'keyed'), '--key-file', right, '--output', path.join(dir, 'ok.bin')]);
  const bad = dbcast(['receive', ...net(9309, 'keyed'), '--key-file', wrong, '--start-timeout-sec', '4', '--output', path.join(dir, 'bad.bin')]);
  const none = dbcast(['receive', ...net(9309, 'keyed'), '--start-timeout-sec', '4', '--output', path.join(dir, 'none.bin')]);
  await listening([ok, bad, none]);
  const s = await dbcast(['send', ...net(9309, 'keyed'), '--key-file', right, '--min-wait-sec', '1'], { stdinFile: input }).done;
  const [rOk, rBad, rNone] = await Promise.all([ok.done, bad.done, none.done]);
  t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
  t.equal(rOk.code, 0, 'the receiver with the key', { stderr: rOk.stderr });
  t.equal(sha256File(path.join(dir, 'ok.bin')), sha256File(input), 'byte-exact');
  t.equal(rBad.code, 3, 'a wrong key: no session (exit 3)', { stderr: rBad.stderr });
  t.match(rBad.stderr, /rejected by the key \{"env-auth-failed":\d+\}/);
  t.equal(rNone.code, 3, 'no key: no session (exit 3)', { stderr: rNone.stderr });
  t.match(rNone.stderr, /dropped packets \{"bad-magic":\d+/);
  t.notOk(fs.existsSync(path.join(dir, 'bad.bin')) || fs.existsSync(path.join(dir, 'none.bin')), 'no output without the key');
});

t.test('--receivers lets only the named in; --sender follows only that address', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 1 << 20);
  const named = dbcast(['receive', ...net(9310, 'named'), '--name', 'replica1', '--sender', '127.0.0.1', '--output', path.join(dir, 'a.bin')]);
  const intruder = dbcast(['receive', ...net(9310, 'named'), '--name', 'intruder', '--start-timeout-sec', '5', '--output', path.join(dir, 'b.bin')]);
  const elsewhere = dbcast(['receive', ...net(9310, 'named'), '--name', 'replica2', '--sender', '10.9.9.9', '--start-timeout-sec', '4', '--output', path.join(dir, 'c.bin')]);
  await listening([named, intruder, elsewhere]);
  const s = await dbcast(['send', ...net(9310, 'named'), '--receivers', 'replica1', '--min-wait-sec', '1'], { stdinFile: input }).done;
  const [a, b, c] = await Promise.all([named.done, intruder.done, elsewhere.done]);
  t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
  t.equal(a.code, 0, 'the named receiver', { stderr: a.stderr });
  t.equal(sha256File(path.join(dir, 'a.bin')), hash);
  t.equal(b.code, 4, 'an unnamed receiver is refused (exit 4)', { stderr: b.stderr });
  t.match(s.stderr, /refused receiver intruder .*not-allowed/);
  t.equal(c.code, 3, 'a receiver pinned to another sender never follows this one (exit 3)', { stderr: c.stderr });
  t.match(c.stderr, /sender-not-allowed/);
});
