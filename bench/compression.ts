// `npm run bench:compress`: zstd in transport on a realistic text dump (a generated schema of
// text, numbers and dates, dumped with `pg_dump -Fp` and `mariadb-dump`), one cell: N
// receivers behind a sender link of RATE (network namespaces + tc tbf, test/netns/testbed.ts).
// Tools, alternating within the run, each receiver's plain stream piped into the same hashing
// consumer as in `npm run bench`:
//   dbcast         `dbcast send < dump`                       | `dbcast receive | openssl dgst`
//   dbcast-zstd    `dbcast send --compress zstd:L < dump`     | `dbcast receive | openssl dgst`
//   udpcast        `udp-sender --file dump`                   | `udp-receiver | openssl dgst`
//   udpcast-zstd   `zstd -T0 -L < dump | udp-sender`          | `udp-receiver | zstd -d | openssl dgst`
// Logical goodput = plain MiB of the dump per second, sender start to the last receiver's exit.
// CPU seconds come from /usr/bin/time around the sender side and each receiver side (the
// compressor and decompressor included: they are children it waits for; the hash consumer not).
// Writes bench/results/compression.md (and .json).
//
// Environment: COMPRESS_BYTES=1200000000 (dump size) COMPRESS_DUMPS=postgres,mariadb N=3
//   RATE=1gbit MTU=1500 REPS=1 LEVEL=1 (zstd level, the same for dbcast and the hand pipe)
//   COMPRESS_TOOLS=dbcast,dbcast-zstd,udpcast,udpcast-zstd COMPRESS_CACHE=/var/tmp/dbcast-bench-dumps
import { execFileSync, spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestBed, canRunBed, sweepStale } from '../test/netns/testbed';
import { makeDump } from './compression-dump';

const list = (v: string | undefined, def: string): string[] => (v ?? def).split(',').map((s) => s.trim()).filter(Boolean);
const BYTES = Number(process.env.COMPRESS_BYTES ?? 1_200_000_000);
const DUMPS = list(process.env.COMPRESS_DUMPS, 'postgres,mariadb') as Array<'postgres' | 'mariadb'>;
const N = Number(process.env.N ?? 3);
const RATE = process.env.RATE ?? '1gbit';
const MTU = Number(process.env.MTU ?? 1500);
const REPS = Number(process.env.REPS ?? 1);
const LEVEL = Number(process.env.LEVEL ?? 1);
const TOOLS = list(process.env.COMPRESS_TOOLS, 'dbcast,dbcast-zstd,udpcast,udpcast-zstd');
const CACHE = process.env.COMPRESS_CACHE ?? '/var/tmp/dbcast-bench-dumps';
const RUN_TIMEOUT_MS = Number(process.env.COMPRESS_TIMEOUT_SEC ?? 600) * 1000;
const HASH_CONSUMER = 'openssl dgst -sha256 -r';
const GROUP = '239.255.43.5';

const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');

interface Proc { code: number | null; cpuSec: number }
interface Run { tool: string; dump: string; ok: boolean; seconds: number; wireBytes: number; senderCpuSec: number; receiverCpuSec: number; detail: string }

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `script` under /bin/sh in namespace `ns`, wrapped in /usr/bin/time (children included). */
function timed(ns: string, script: string, timeoutMs: number): Promise<Proc> {
  const timeFile = path.join(os.tmpdir(), `dbcast-zbench-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const child = spawn('ip', ['netns', 'exec', ns, '/usr/bin/time', '-f', '%U %S', '-o', timeFile, 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  const limit = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(limit);
    let cpuSec = 0;
    try { const [u, s] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number); cpuSec = u + s; fs.rmSync(timeFile); } catch { /* killed */ }
    resolve({ code, cpuSec });
  }));
}

const txBytes = (ns: string): number => Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/e0/statistics/tx_bytes'], { encoding: 'utf8' }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The receiver side's script: its plain stream into the hash consumer; exit = the tool's. */
function receiverScript(tool: string, i: number, out: string): string {
  const dbcast = `${q(process.execPath)} ${q(DBCAST)} receive --interface e0 --group ${GROUP} --port 9940 --job zbench --idle-timeout-sec 15 --name rx${i + 1}`;
  const udp = 'udp-receiver --interface e0 --nokbd --mcast-rdv-address 239.255.43.5 --portbase 9942 --rcvbuf 4194304';
  // The tool's own exit status is written down; a pipeline's status is its last command's.
  const stage = tool.startsWith('dbcast') ? dbcast : tool === 'udpcast' ? udp : `${udp} | zstd -q -d -c`;
  return `{ ${stage}; echo $? > ${q(out)}.code; } | ${HASH_CONSUMER} > ${q(out)}`;
}

function senderScript(tool: string, dump: string): string {
  const dbcast = `${q(process.execPath)} ${q(DBCAST)} send --interface e0 --group ${GROUP} --port 9940 --job zbench --idle-timeout-sec 15 --min-receivers ${N}`;
  const udp = `udp-sender --interface e0 --nokbd --mcast-rdv-address 239.255.43.5 --portbase 9942 --min-receivers ${N} --nopointopoint --full-duplex`;
  switch (tool) {
    case 'dbcast': return `exec ${dbcast} < ${q(dump)}`;
    case 'dbcast-zstd': return `exec ${dbcast} --compress zstd:${LEVEL} < ${q(dump)}`;
    case 'udpcast': return `exec ${udp} --file ${q(dump)}`;
    default: return `zstd -q -T0 -${LEVEL} -c < ${q(dump)} | ${udp}`;
  }
}

async function runOnce(tool: string, bed: TestBed, dumpName: string, dump: string, hash: string, dir: string): Promise<Run> {
  const outs = bed.receivers.map((_, i) => path.join(dir, `${tool}-rx${i + 1}.sha256`));
  for (const f of outs) { fs.rmSync(f, { force: true }); fs.rmSync(`${f}.code`, { force: true }); }
  const rx = bed.receivers.map((h, i) => timed(h.ns, receiverScript(tool, i, outs[i]), RUN_TIMEOUT_MS));
  await sleep(1000); // receivers listening
  const wire0 = txBytes(bed.sender.ns);
  const t0 = process.hrtime.bigint();
  const sender = await timed(bed.sender.ns, senderScript(tool, dump), RUN_TIMEOUT_MS);
  const rs = await Promise.all(rx);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const codes = outs.map((f) => { try { return Number(fs.readFileSync(`${f}.code`, 'utf8').trim()); } catch { return -1; } });
  const good = outs.filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').split(' ')[0] === hash).length;
  return {
    tool, dump: dumpName, seconds, wireBytes: txBytes(bed.sender.ns) - wire0,
    ok: good === N && sender.code === 0 && codes.every((c) => c === 0) && rs.every((r) => r.code === 0),
    senderCpuSec: sender.cpuSec, receiverCpuSec: rs.reduce((a, r) => a + r.cpuSec, 0) / N,
    detail: `${good}/${N} byte-exact, sender exit ${sender.code}, receivers ${codes.join(',')}`,
  };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r'); const buf = Buffer.allocUnsafe(1 << 22);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

/** zstd alone on this machine: compress and decompress cost of the dump at LEVEL. */
function zstdAlone(dump: string): { ratio: number; compressMiBs: number; compressCpuPerGiB: number; decompressCpuPerGiB: number } {
  const size = fs.statSync(dump).size; const gib = size / 2 ** 30;
  const z = `${dump}.${LEVEL}.zst`;
  const time = (cmd: string): { wall: number; cpu: number } => {
    const t0 = process.hrtime.bigint();
    const out = execFileSync('sh', ['-c', `/usr/bin/time -f '%U %S' sh -c ${q(cmd)} 2>&1 >/dev/null | tail -1`], { encoding: 'utf8' }).trim().split(' ').map(Number);
    return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: out[0] + out[1] };
  };
  const c = time(`zstd -q -f -T0 -${LEVEL} -o ${q(z)} ${q(dump)}`);
  const d = time(`zstd -q -d -c ${q(z)}`);
  const ratio = size / fs.statSync(z).size;
  fs.rmSync(z);
  return { ratio, compressMiBs: size / 2 ** 20 / c.wall, compressCpuPerGiB: c.cpu / gib, decompressCpuPerGiB: d.cpu / gib };
}

async function main(): Promise<void> {
  const can = canRunBed();
  if (!can.ok) { process.stderr.write(`bench:compress: ${can.why}\n`); process.exit(2); }
  for (const tool of ['/usr/bin/time', 'udp-sender', 'openssl', 'zstd']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`]); } catch { process.stderr.write(`bench:compress: needs ${tool}\n`); process.exit(2); }
  }
  sweepStale();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-zbench-'));
  fs.chmodSync(dir, 0o755);
  const runs: Run[] = [];
  const alone: Record<string, ReturnType<typeof zstdAlone> & { bytes: number }> = {};
  let bed: TestBed | null = null;
  const cleanup = (): void => { bed?.down(); fs.rmSync(dir, { recursive: true, force: true }); };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    for (const engine of DUMPS) {
      const dump = await makeDump(engine, BYTES, path.join(CACHE, `${engine}-${BYTES}.sql`));
      const bytes = fs.statSync(dump).size;
      const hash = sha256File(dump);
      alone[engine] = { ...zstdAlone(dump), bytes };
      process.stderr.write(`${engine}: ${bytes} bytes, zstd -${LEVEL}: ratio ${f(alone[engine].ratio, 2)}, ${f(alone[engine].compressMiBs)} MiB/s (-T0), ${f(alone[engine].compressCpuPerGiB, 2)} CPU s/GiB; decompress ${f(alone[engine].decompressCpuPerGiB, 2)} CPU s/GiB\n`);
      bed = new TestBed({ receivers: N, mtu: MTU, lossPercent: Array(N).fill(0), rate: RATE }, `zb${engine[0]}`);
      bed.up();
      for (let rep = 0; rep < REPS; rep++) {
        for (const tool of TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length])) {
          const r = await runOnce(tool, bed, engine, dump, hash, dir);
          runs.push(r);
          process.stderr.write(`${engine} ${tool.padEnd(12)} rep ${rep + 1}: ${r.ok ? `${f(bytes / 2 ** 20 / r.seconds)} MiB/s` : 'FAILED'} (${f(r.seconds, 2)} s, wire ${f(r.wireBytes / 2 ** 20, 0)} MiB, CPU s sender ${f(r.senderCpuSec)} receiver ${f(r.receiverCpuSec)}; ${r.detail})\n`);
        }
      }
      bed.down(); bed = null;
    }
  } finally { cleanup(); }

  const machine = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, kernel: `${os.type()} ${os.release()}`, node: process.version, zstd: execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim() };
  const lines = [
    `# Compression bench (\`npm run bench:compress\`)`, '',
    `${machine.date}. ${machine.cpu}, ${machine.cores} cores shared by every host of the bed (and by other users of the machine), ${machine.kernel}, node ${machine.node}, ${machine.zstd}.`,
    `One cell: N = ${N} receivers, sender link ${RATE} (tc tbf), MTU ${MTU}, no loss; median of ${REPS}; zstd level ${LEVEL} for dbcast and the hand pipe alike. Every receiver's plain stream goes into \`${HASH_CONSUMER}\`; a run with a wrong hash on any receiver is FAILED.`, '',
    '| dump | bytes | zstd ratio | zstd -T0 MiB/s (alone) | compress CPU s/GiB | decompress CPU s/GiB |', '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(alone).map(([e, a]) => `| ${e} | ${a.bytes} | ${f(a.ratio, 2)} | ${f(a.compressMiBs)} | ${f(a.compressCpuPerGiB, 2)} | ${f(a.decompressCpuPerGiB, 2)} |`), '',
    '| dump | tool | logical goodput MiB/s | vs dbcast plain | wire MiB | sender CPU s | receiver CPU s (each) | sender CPU s/GiB | receiver CPU s/GiB | runs ok |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const engine of DUMPS) {
    const bytes = alone[engine]?.bytes ?? 0; const gib = bytes / 2 ** 30;
    const good = (tool: string): number => median(runs.filter((r) => r.dump === engine && r.tool === tool).map((r) => (r.ok ? bytes / 2 ** 20 / r.seconds : 0)));
    for (const tool of TOOLS) {
      const rs = runs.filter((r) => r.dump === engine && r.tool === tool); const ok = rs.filter((r) => r.ok);
      lines.push(`| ${engine} | ${tool} | ${f(good(tool))} | ${f(good(tool) / good('dbcast'), 2)}× | ${f(median(ok.map((r) => r.wireBytes / 2 ** 20)), 0)} | ${f(median(ok.map((r) => r.senderCpuSec)))} | ${f(median(ok.map((r) => r.receiverCpuSec)))} | ${f(median(ok.map((r) => r.senderCpuSec / gib)), 2)} | ${f(median(ok.map((r) => r.receiverCpuSec / gib)), 2)} | ${ok.length}/${rs.length} |`);
    }
  }
  lines.push('', 'Logical goodput: plain MiB of the dump per second per receiver, from the sender\'s start to the last receiver\'s exit (join included). CPU: user + system of the sender side and of each receiver side, the zstd processes included, the hash consumer not; per GiB of plain dump.');
  const md = lines.join('\n') + '\n';
  const out = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'compression.md'), md);
  fs.writeFileSync(path.join(out, 'compression.json'), JSON.stringify({ machine, config: { BYTES, DUMPS, N, RATE, MTU, REPS, LEVEL, TOOLS }, alone, runs }, null, 2) + '\n');
  process.stdout.write(md);
}

void main();
