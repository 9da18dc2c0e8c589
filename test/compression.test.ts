// zstd in transport (--compress zstd, --store), on loopback multicast (no root): compressed
// transfers into files (plain and kept compressed, fixed names and archives), into stdout and
// --pipe under /bin/sh with real pipes; and crafted compressed streams whose SHA-256 matches
// but whose bytes do not decompress (a corrupt frame checksum) or decompress short (cut, with
// the full length appended): exit 6, no file, nothing on stdout or to --pipe, no spool left.
// Ports 9900-9919, group 239.255.43.5.
import t, { type Test } from 'tap';
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, sha256File, tempDir } from './helpers/dbcast';
import { DBCAST, q, readCode, readText, sh, shaOf, waitForFile } from './helpers/shell';
import { lyingSend } from './helpers/lying-sender';
import { encodeZstdLength } from '../runtime/zstd-length';
import { encodeStreamInfo } from '../runtime/stream-info';

const GROUP = '239.255.43.5';
const LIMIT_SEC = 90;
const SCRIPT_MS = (LIMIT_SEC + 20) * 1000;
const net = (port: number, job: string): string => `--interface 127.0.0.1 --group ${GROUP} --port ${port} --job ${q(job)}`;
const bounded = (cmd: string): string => `timeout -k 5 ${LIMIT_SEC} ${cmd}`;
const receive = (port: number, job: string, name: string, extra = ''): string =>
  bounded(`${DBCAST} receive ${net(port, job)} --name ${q(name)} --start-timeout-sec 60 ${extra}`);
const send = (port: number, job: string, receivers: number, extra = ''): string =>
  bounded(`${DBCAST} send ${net(port, job)} --min-receivers ${receivers} --max-wait-sec 60 ${extra}`);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A text dump of `bytes`, shaped like pg_dump -Fp COPY data: it compresses as real ones do. */
function textDump(bytes: number): Buffer {
  const words = ['delivered', 'pending', 'Zürich', 'Kraków', 'express', 'invoice', 'refund', 'customer'];
  const lines: string[] = ['COPY public.orders (id, customer, placed_at, total, note) FROM stdin;'];
  let n = 0; let size = 0;
  while (size < bytes) {
    const l = `${n}\tKunde ${n % 977}\t2026-01-${String(1 + (n % 28)).padStart(2, '0')} 12:${String(n % 60).padStart(2, '0')}:00+00\t${(n * 37) % 10000 / 100}\t${words[n % 8]} ${words[(n * 7) % 8]} ref ${(n * 2654435761 % 2 ** 32).toString(16)}`;
    lines.push(l); size += l.length + 1; n++;
  }
  return Buffer.from(lines.join('\n') + '\n').subarray(0, bytes);
}

/** Start receiver scripts, wait for each log to say it listens, run the sender; all ended. */
async function transfer(dir: string, receivers: { script: string; log: string }[], sender: string): Promise<void> {
  const rx = receivers.map((r) => sh(r.script, { cwd: dir, timeoutMs: SCRIPT_MS }));
  try {
    await Promise.all(receivers.map((r, i) => waitForFile(path.join(dir, r.log), /listening for job/, 30_000, rx[i].done)));
  } catch (err) { rx.forEach((r) => r.kill()); throw err; }
  const tx = sh(sender, { cwd: dir, timeoutMs: SCRIPT_MS });
  const ends = await Promise.all([tx.done, ...rx.map((r) => r.done)]);
  if (ends.some((e) => e.timedOut)) throw new Error('a script was killed by its timer');
}

const logs = (dir: string, ...files: string[]): Record<string, string> => Object.fromEntries(files.map((f) => [f, readText(path.join(dir, f))]));

t.test('compressed to --output: plain (default) and --store compressed, fixed names and archives', async (t) => {
  const dir = tempDir(t);
  const dump = textDump(12 << 20);
  fs.writeFileSync(path.join(dir, 'dump.sql'), dump);
  for (const d of ['out', 'arch-plain', 'arch-zst']) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  const r = (name: string, extra: string): { script: string; log: string } =>
    ({ script: `${receive(9900, 'z-files', name, extra)} 2> ${name}.log; echo $? > ${name}.code`, log: `${name}.log` });
  await transfer(dir, [
    r('plain', '--output out/a.sql'),
    r('zst', '--output out/b.sql --store compressed'),
    r('ap', '--output arch-plain --keep 2'),
    r('az', '--output arch-zst --store compressed --keep 2'),
  ], `${send(9900, 'z-files', 4, '--compress zstd --report report.json')} < dump.sql 2> s.log; echo $? > s.code`);
  const l = logs(dir, 's.log', 'plain.log', 'zst.log', 'ap.log', 'az.log');
  t.equal(readCode(path.join(dir, 's.code')), 0, 'sender exit 0', l);
  for (const n of ['plain', 'zst', 'ap', 'az']) t.equal(readCode(path.join(dir, `${n}.code`)), 0, `receiver ${n} exit 0`, l);
  const report = JSON.parse(readText(path.join(dir, 'report.json')));
  t.ok(report.totalBytes < dump.length / 3, `sent ${report.totalBytes} bytes for a ${dump.length}-byte text dump`);

  t.equal(sha256File(path.join(dir, 'out/a.sql')), sha(dump), '--output (plain): the dump itself');
  t.notOk(fs.existsSync(path.join(dir, 'out/b.sql')), '--store compressed: no file under the plain name');
  const zst = fs.readFileSync(path.join(dir, 'out/b.sql.zst'));
  t.equal(zst.length, report.totalBytes, 'the .zst holds the stream as sent');
  t.equal(sha(execFileSync('zstd', ['-q', '-d', '-c'], { input: zst, maxBuffer: 64 << 20 })), sha(dump), 'zstd -d of the .zst gives the dump');

  const ap = fs.readdirSync(path.join(dir, 'arch-plain')).sort();
  t.match(ap, [/^z-files-\d{8}T\d{6}Z\.dump$/, /^z-files-\d{8}T\d{6}Z\.dump\.sha256$/], 'plain archive: name as without compression');
  t.equal(readText(path.join(dir, 'arch-plain', ap[1])).split(' ')[0], sha(dump), 'plain archive: .sha256 of the plain bytes');
  const az = fs.readdirSync(path.join(dir, 'arch-zst')).sort();
  t.match(az, [/^z-files-\d{8}T\d{6}Z\.dump\.zst$/, /^z-files-\d{8}T\d{6}Z\.dump\.zst\.sha256$/], 'compressed archive: .zst name');
  const azBytes = fs.readFileSync(path.join(dir, 'arch-zst', az[0]));
  t.equal(readText(path.join(dir, 'arch-zst', az[1])).split(' ')[0], sha(azBytes), 'compressed archive: .sha256 of the compressed bytes');
});

t.test('compressed into | sha256sum and --pipe, under /bin/sh: plain bytes, byte-exact', async (t) => {
  const dir = tempDir(t);
  const dump = textDump(10 << 20);
  fs.writeFileSync(path.join(dir, 'dump.sql'), dump);
  await transfer(dir, [
    { script: `{ ${receive(9901, 'z-pipes', 'stdout')} 2> stdout.log; echo $? > stdout.code; } | sha256sum > stdout.sum`, log: 'stdout.log' },
    { script: `${receive(9901, 'z-pipes', 'pipe', `--pipe ${q('sha256sum > pipe.sum')}`)} 2> pipe.log; echo $? > pipe.code`, log: 'pipe.log' },
  ], `cat dump.sql | ${send(9901, 'z-pipes', 2, '--compress zstd:3')} 2> s.log; echo $? > s.code`);
  const l = logs(dir, 's.log', 'stdout.log', 'pipe.log');
  t.equal(readCode(path.join(dir, 's.code')), 0, 'sender exit 0', l);
  t.equal(readCode(path.join(dir, 'stdout.code')), 0, 'stdout receiver exit 0', l);
  t.equal(readCode(path.join(dir, 'pipe.code')), 0, '--pipe receiver exit 0', l);
  t.equal(shaOf(path.join(dir, 'stdout.sum')), sha(dump), 'dbcast receive | sha256sum = the plain dump\'s hash');
  t.equal(shaOf(path.join(dir, 'pipe.sum')), sha(dump), '--pipe sha256sum = the plain dump\'s hash');
});

t.test('bad flags: --compress and --store forms', async (t) => {
  for (const [args, re] of [
    [['send', '--compress', 'gzip'], /--compress.*zstd, zstd:LEVEL/],
    [['send', '--compress', 'zstd:20'], /--compress/],
    [['receive', '--store', 'compressed'], /--store.*--output/],
    [['receive', '--output', '/tmp/x', '--store', 'zip'], /--store.*plain or compressed/],
  ] as const) {
    const r = await dbcast([...args, '--interface', '127.0.0.1']).done;
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, re, `${args.join(' ')}: names the flag and its form`);
  }
});

/** One crafted compressed session into three receivers: a file, --pipe, stdout. */
async function crafted(t: Test, port: number, job: string, wire: Buffer, why: RegExp): Promise<void> {
  const dir = tempDir(t);
  const tmp = path.join(dir, 'tmp'); fs.mkdirSync(tmp, { mode: 0o700 });
  const env = { ...process.env, TMPDIR: tmp };
  const base = ['receive', '--interface', '127.0.0.1', '--group', GROUP, '--port', String(port), '--job', job, '--idle-timeout-sec', '5'];
  const rx = [
    dbcast([...base, '--name', 'file', '--output', path.join(dir, 'out.sql')], { env }),
    dbcast([...base, '--name', 'pipe', '--pipe', `cat > ${q(path.join(dir, 'piped'))}`], { env }),
    dbcast([...base, '--name', 'stdout'], { env, stdoutFile: path.join(dir, 'stdout') }),
  ];
  await Promise.all(rx.map((r) => r.stderrMatch(/listening for job/)));
  await lyingSend({ group: GROUP, port, job, minReceivers: 3, input: wire, announceInfo: encodeStreamInfo({ compression: 'zstd' }), honestEnd: true });
  const rs = await Promise.all(rx.map((r) => r.done));
  rs.forEach((r, i) => {
    t.equal(r.code, 6, `receiver ${i + 1}: exit 6 (a hash failure)`, { stderr: r.stderr });
    t.match(r.stderr, /hash-mismatch/, `receiver ${i + 1}: outcome hash-mismatch`);
    t.match(r.stderr, why, `receiver ${i + 1}: says why`);
  });
  t.notOk(fs.existsSync(path.join(dir, 'out.sql')), 'no --output file');
  t.equal(fs.readdirSync(dir).filter((f) => f.includes('partial')).length, 0, 'no partial file left');
  t.equal(readText(path.join(dir, 'piped')), '', '--pipe got nothing');
  t.equal(fs.statSync(path.join(dir, 'stdout')).size, 0, 'stdout got nothing');
  t.same(fs.readdirSync(tmp), [], 'no spool left');
}

t.test('a corrupt zstd frame (its checksum), SHA-256 of what was sent matching: exit 6, nothing written', async (t) => {
  const plain = textDump(4 << 20);
  const z = execFileSync('zstd', ['-q', '-c', '-1'], { input: plain, maxBuffer: 64 << 20 });
  z[z.length - 1] ^= 0x55; // the frame's content checksum (XXH64), last in the frame
  await crafted(t, 9902, 'z-corrupt', Buffer.concat([z, encodeZstdLength(plain.length)]), /does not decompress \(zstd exit status \d+: .*checksum/i);
});

t.test('a compressed stream cut short, the full length appended, SHA-256 matching: exit 6', async (t) => {
  const plain = textDump(4 << 20);
  const half = execFileSync('zstd', ['-q', '-c', '-1'], { input: plain.subarray(0, plain.length >> 1), maxBuffer: 64 << 20 });
  await crafted(t, 9903, 'z-short', Buffer.concat([half, encodeZstdLength(plain.length)]), /decompressed to 2097152 bytes, the sender announced 4194304/);
});

t.test('a compressed stream cut inside a frame, no length frame: exit 6', async (t) => {
  const plain = textDump(4 << 20);
  const z = execFileSync('zstd', ['-q', '-c', '-1'], { input: plain, maxBuffer: 64 << 20 });
  await crafted(t, 9904, 'z-cut', z.subarray(0, z.length >> 1), /does not decompress/);
});
