// `npm run bench`: dbcast against udp-sender/udp-receiver and against N× unicast TCP, side by
// side in one run, on the network-namespace test bed (root). Each cell of the matrix gets its
// own bed; tools alternate within a cell. Every tool's receivers run as users run them: the
// stream on their stdout, a real pipe into the same hashing consumer (`receiver | openssl dgst
// -sha256`, as in `dbcast receive | pg_restore`); a wrong or missing hash on any receiver scores
// the run 0. The consumer's CPU is charged to no tool: /usr/bin/time wraps the receiver alone,
// inside the pipeline. Writes bench/results/latest.{md,json,svg,png}.
//
// Environment: BENCH_N=1,3,6 BENCH_LOSS=0,1,5 BENCH_MTU=1500,9000 BENCH_MIB=256 BENCH_REPS=3
//              RATE=1gbit BENCH_TOOLS=dbcast,dbcast-key,udpcast,tcp BENCH_NAME=latest
//              BENCH_DBCAST_ARGS="--payload-bytes 1448" (extra dbcast send flags, for A/B tuning runs;
//              without it dbcast runs in its default configuration)
//              BENCH_DIR=/dev/shm (input and outputs; tmpfs by default, see below)
// dbcast-key is dbcast in keyed mode (--key-file): the cost of AES-256-GCM, same bed, same run.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { randomFile } from '../test/helpers/dbcast';
import { TestBed, canRunBed, sweepStale } from '../test/netns/testbed';

const list = (v: string | undefined, def: string): string[] => (v ?? def).split(',').map((s) => s.trim()).filter(Boolean);
const NS = list(process.env.BENCH_N, '1,3,6').map(Number);
const LOSS = list(process.env.BENCH_LOSS, '0,1,5').map(Number);
const MTUS = list(process.env.BENCH_MTU, '1500,9000').map(Number);
const MIB = Number(process.env.BENCH_MIB ?? 256);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const RATE = process.env.RATE ?? '1gbit';
const TOOLS = list(process.env.BENCH_TOOLS, 'dbcast,dbcast-key,udpcast,tcp');
const NAME = process.env.BENCH_NAME ?? 'latest';
const DBCAST_EXTRA = list(process.env.BENCH_DBCAST_ARGS?.replace(/\s+/g, ','), '');
const RUN_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SEC ?? 90) * 1000;
// Input on tmpfs: the bench measures the network, not the disk. Receivers write no file (their
// stdout goes into HASH_CONSUMER), so no tool pays for a disk or an fsync the others skip.
const BENCH_DIR = process.env.BENCH_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
// What every receiver's stdout is piped into. openssl rather than coreutils' sha256sum: with the
// CPU's SHA extensions it hashes 256 MiB in 0.46 CPU s, sha256sum in 1.6 (measured on the bench
// machine), and all hosts of the bed share two cores: with sha256sum, six of them would compete
// with the tools for the cores and the bench would measure sha256sum. Prints "<hex> *stdin".
const HASH_CONSUMER = 'openssl dgst -sha256 -r';

// Compiled to dist/bench/: the project root is the nearest folder up with package.json.
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const TCP = path.join(ROOT, 'dist', 'bench', 'tcp-fanout.js');

interface Proc { code: number | null; userSec: number; sysSec: number; maxRssKb: number }
interface RunResult { ok: boolean; seconds: number; wireBytes: number; senderCpuSec: number; receiverCpuSec: number; senderRssKb: number; receiverRssKb: number; detail: string }

function rateBitsPerSec(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)bit$/i.exec(rate);
  if (!m) throw new Error(`RATE must look like 1gbit or 500mbit, got ${rate}`);
  return Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
}

/** UDP payload bytes/s the link can carry: tbf charges the Ethernet header too. */
const payloadLimitBytesPerSec = (mtu: number): number => (rateBitsPerSec(RATE) / 8) * (mtu - 28) / (mtu + 14);

/**
 * Run argv in a namespace under /usr/bin/time; resolves with exit code and CPU. With `hashTo`,
 * argv's stdout is a real pipe into `HASH_CONSUMER > hashTo` (a shell pipeline; Node's stdio pipes
 * are socket pairs): time wraps argv alone, so the consumer's CPU and memory are nobody's, and
 * the exit code is argv's (the group writes it down, a pipeline's own status is its last
 * command's).
 */
function timed(ns: string, argv: string[], timeoutMs: number, hashTo?: string): Promise<Proc> {
  const timeFile = path.join(os.tmpdir(), `dbcast-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const timedArgv = ['/usr/bin/time', '-f', '%U %S %M', '-o', timeFile, ...argv];
  const codeFile = `${timeFile}.code`;
  const script = `code=$1 out=$2; shift 2; { "$@"; echo $? > "$code"; } | ${HASH_CONSUMER} > "$out"; exit "$(cat "$code" 2>/dev/null || echo 125)"`;
  const cmd = hashTo ? ['sh', '-c', script, 'sh', codeFile, hashTo, ...timedArgv] : timedArgv;
  // Own process group: on timeout the tool itself (a child of `time`) must die too, or it
  // keeps its port and fails the next run.
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  const limit = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(limit);
      let userSec = 0; let sysSec = 0; let maxRssKb = 0;
      try {
        const last = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
        [userSec, sysSec, maxRssKb] = last.split(' ').map(Number);
        fs.rmSync(timeFile);
      } catch { /* killed before time wrote its line */ }
      fs.rmSync(codeFile, { force: true });
      resolve({ code, userSec, sysSec, maxRssKb });
    });
  });
}

const txBytes = (ns: string): number =>
  Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/e0/statistics/tx_bytes'], { encoding: 'utf8' }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runOnce(tool: string, bed: TestBed, mtu: number, input: string, hash: string, dir: string): Promise<RunResult> {
  const n = bed.receivers.length;
  // Each receiver's stdout goes into `HASH_CONSUMER > this` (see timed()).
  const outs = bed.receivers.map((_, i) => path.join(dir, `${tool}-rx${i + 1}.sha256`));
  outs.forEach((f) => fs.rmSync(f, { force: true }));
  let receivers: Promise<Proc>[];
  let senderArgv: string[];
  if (tool === 'dbcast' || tool === 'dbcast-key') {
    const keyed = tool === 'dbcast-key';
    const keyFile = path.join(dir, 'bench.key');
    if (keyed && !fs.existsSync(keyFile)) { fs.writeFileSync(keyFile, randomBytes(32)); fs.chmodSync(keyFile, 0o600); }
    const common = ['--interface', 'e0', '--group', '239.77.1.1', '--port', '9500', '--job', 'bench', '--idle-timeout-sec', '10', ...(keyed ? ['--key-file', keyFile] : [])];
    // No sink flag: the stream goes to stdout, into the pipe.
    receivers = bed.receivers.map((h, i) => timed(h.ns, [process.execPath, DBCAST, 'receive', ...common, '--name', `rx${i + 1}`], RUN_TIMEOUT_MS, outs[i]));
    // The default configuration: payload size read off the interface MTU, max rate 1000 Mbit/s
    // (told only when the bench link is not 1 Gbit/s).
    const rateMbps = rateBitsPerSec(RATE) / 1e6;
    senderArgv = [process.execPath, DBCAST, 'send', ...common, '--min-receivers', String(n),
      ...(rateMbps === 1000 ? [] : ['--max-rate-mbps', String(rateMbps)]), ...DBCAST_EXTRA];
    senderArgv = ['sh', '-c', `exec "$@" < ${input}`, 'sh', ...senderArgv];
  } else if (tool === 'udpcast') {
    const common = ['--interface', 'e0', '--nokbd', '--mcast-rdv-address', '239.77.1.9', '--portbase', '9600'];
    const block = mtu > 1500 ? ['--blocksize', String(mtu - 100)] : [];
    // Without --file, udp-receiver writes to stdout.
    receivers = bed.receivers.map((h, i) => timed(h.ns, ['udp-receiver', ...common, '--rcvbuf', '4194304'], RUN_TIMEOUT_MS, outs[i]));
    senderArgv = ['udp-sender', ...common, ...block, '--min-receivers', String(n), '--nopointopoint', '--full-duplex', '--file', input];
  } else {
    // /dev/stdout: tcp-fanout opens it, a blocking descriptor of the same pipe.
    receivers = bed.receivers.map((h, i) => timed(h.ns, [process.execPath, TCP, 'serve', '9700', '/dev/stdout'], RUN_TIMEOUT_MS, outs[i]));
    senderArgv = [process.execPath, TCP, 'send', input, ...bed.receivers.map((h) => `${h.address}:9700`)];
  }
  await sleep(400); // receivers listening
  const wire0 = txBytes(bed.sender.ns);
  const t0 = process.hrtime.bigint();
  const sender = await timed(bed.sender.ns, senderArgv, RUN_TIMEOUT_MS);
  const rx = await Promise.all(receivers);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const wireBytes = txBytes(bed.sender.ns) - wire0;
  const good = outs.filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').split(' ')[0] === hash).length;
  const ok = good === n && sender.code === 0 && rx.every((r) => r.code === 0);
  return {
    ok, seconds, wireBytes,
    senderCpuSec: sender.userSec + sender.sysSec,
    receiverCpuSec: rx.reduce((a, r) => a + r.userSec + r.sysSec, 0) / n,
    senderRssKb: sender.maxRssKb,
    receiverRssKb: Math.max(0, ...rx.map((r) => r.maxRssKb)),
    detail: `${good}/${n} byte-exact, sender exit ${sender.code}, receivers ${rx.map((r) => r.code).join(',')}`,
  };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : 0; };

interface Cell { n: number; loss: number; mtu: number; runs: Record<string, RunResult[]> }

function summarize(cell: Cell, tool: string) {
  const runs = cell.runs[tool] ?? [];
  const bytes = MIB * 1048576;
  // A run that did not deliver correct bytes scores 0.
  const goodput = median(runs.map((r) => (r.ok ? MIB / r.seconds : 0)));
  const okRuns = runs.filter((r) => r.ok);
  return {
    goodputMiBs: goodput,
    fractionOfLimit: (goodput * 1048576) / payloadLimitBytesPerSec(cell.mtu),
    wirePerPayload: okRuns.length ? median(okRuns.map((r) => r.wireBytes / bytes)) : NaN,
    senderCpuPerGiB: okRuns.length ? median(okRuns.map((r) => r.senderCpuSec / (MIB / 1024))) : NaN,
    receiverCpuPerGiB: okRuns.length ? median(okRuns.map((r) => r.receiverCpuSec / (MIB / 1024))) : NaN,
    senderRssMiB: okRuns.length ? Math.max(...okRuns.map((r) => r.senderRssKb)) / 1024 : NaN,
    receiverRssMiB: okRuns.length ? Math.max(...okRuns.map((r) => r.receiverRssKb)) / 1024 : NaN,
    okRuns: okRuns.length, runs: runs.length,
  };
}

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

function markdown(cells: Cell[], machine: Record<string, unknown>): string {
  const lines = [
    `Bench: ${MIB} MiB per run, median of ${REPS}, sender link ${RATE} (tc tbf), tools alternating; ${machine.date}.`,
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, net.core.rmem_max ${machine.rmemMaxBytes}. All hosts share these cores. Input in ${machine.dir} (${machine.dirFs}); every receiver's stdout is piped into \`${HASH_CONSUMER}\` (its CPU is in no column).`,
    '',
    '| N | loss % | MTU | dbcast MiB/s | dbcast keyed MiB/s | keyed / plain | CPU s/GiB receiver keyed | udpcast MiB/s | TCP MiB/s | dbcast / udpcast | dbcast % of link | wire/payload dbcast | wire/payload udpcast | CPU s/GiB sender dbcast / udpcast | CPU s/GiB receiver dbcast / udpcast | dbcast peak RSS MiB sender / receiver |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cells) {
    const d = summarize(c, 'dbcast'); const u = summarize(c, 'udpcast'); const tcp = summarize(c, 'tcp');
    const k = summarize(c, 'dbcast-key');
    const ratio = u.goodputMiBs > 0 ? f(d.goodputMiBs / u.goodputMiBs, 2) : 'udpcast failed';
    const keyRatio = d.goodputMiBs > 0 && k.runs > 0 ? f(k.goodputMiBs / d.goodputMiBs, 2) : '–';
    lines.push(`| ${c.n} | ${c.loss} | ${c.mtu} | ${f(d.goodputMiBs)} (${d.okRuns}/${d.runs}) | ${f(k.goodputMiBs)} (${k.okRuns}/${k.runs}) | ${keyRatio} | ${f(k.receiverCpuPerGiB)} | ${f(u.goodputMiBs)} (${u.okRuns}/${u.runs}) | ${f(tcp.goodputMiBs)} (${tcp.okRuns}/${tcp.runs}) | ${ratio} | ${f(100 * d.fractionOfLimit, 0)} % | ${f(d.wirePerPayload, 3)} | ${f(u.wirePerPayload, 3)} | ${f(d.senderCpuPerGiB)} / ${f(u.senderCpuPerGiB)} | ${f(d.receiverCpuPerGiB)} / ${f(u.receiverCpuPerGiB)} | ${f(d.senderRssMiB, 0)} / ${f(d.receiverRssMiB, 0)} |`);
  }
  lines.push('', 'Goodput = payload MiB per second per receiver, from the sender\'s start to the last receiver\'s exit (join included). (k/n) = runs byte-exact on every receiver. Link limit = UDP payload the tbf rate carries at that MTU.');
  return lines.join('\n') + '\n';
}

function svgChart(cells: Cell[]): string {
  const tools = ['dbcast', 'udpcast', 'tcp'];
  const colors: Record<string, string> = { dbcast: '#1f77b4', udpcast: '#ff7f0e', tcp: '#2ca02c' };
  const W = Math.max(600, 70 * cells.length + 120); const H = 360; const left = 60; const bottom = 300;
  const max = Math.max(1, ...cells.flatMap((c) => tools.map((t) => summarize(c, t).goodputMiBs)));
  const scale = (v: number): number => (v / max) * 260;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="16" font-size="13">Goodput per receiver (MiB/s), ${MIB} MiB, ${RATE}; cell = N / loss % / MTU</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${W - 20}" y2="${bottom}" stroke="black"/>`];
  for (let v = 0; v <= max; v += Math.max(10, Math.round(max / 50) * 10)) {
    parts.push(`<text x="${left - 6}" y="${bottom - scale(v) + 4}" text-anchor="end">${v}</text>`, `<line x1="${left}" y1="${bottom - scale(v)}" x2="${W - 20}" y2="${bottom - scale(v)}" stroke="#ddd"/>`);
  }
  cells.forEach((c, i) => {
    const x0 = left + 10 + i * 70;
    tools.forEach((t, j) => {
      const v = summarize(c, t).goodputMiBs;
      parts.push(`<rect x="${x0 + j * 18}" y="${bottom - scale(v)}" width="16" height="${scale(v)}" fill="${colors[t]}"/>`);
    });
    parts.push(`<text x="${x0 + 27}" y="${bottom + 14}" text-anchor="middle">${c.n}/${c.loss}/${c.mtu}</text>`);
  });
  tools.forEach((t, j) => parts.push(`<rect x="${left + j * 90}" y="${H - 26}" width="12" height="12" fill="${colors[t]}"/><text x="${left + j * 90 + 16}" y="${H - 16}">${t}</text>`));
  parts.push('</svg>');
  return parts.join('\n');
}

async function main(): Promise<void> {
  const can = canRunBed();
  if (!can.ok) { process.stderr.write(`bench: ${can.why}\n`); process.exit(2); }
  for (const tool of ['/usr/bin/time', 'udp-sender', 'rsvg-convert', 'openssl']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`]); } catch {
      process.stderr.write(`bench: needs ${tool} (apt-get install time udpcast librsvg2-bin openssl)\n`); process.exit(2);
    }
  }
  sweepStale();
  const dir = fs.mkdtempSync(path.join(BENCH_DIR, 'dbcast-bench-'));
  const input = path.join(dir, 'input.bin');
  const hash = randomFile(input, MIB * 1048576);
  fs.chmodSync(dir, 0o755);
  const cells: Cell[] = [];
  const machine = {
    date: new Date().toISOString(), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`, node: process.version, hostname: os.hostname(),
    rmemMaxBytes: Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8')),
    dir: BENCH_DIR, dirFs: execFileSync('stat', ['-f', '-c', '%T', BENCH_DIR], { encoding: 'utf8' }).trim(),
  };
  let bed: TestBed | null = null;
  const cleanup = (): void => { bed?.down(); fs.rmSync(dir, { recursive: true, force: true }); };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    for (const mtu of MTUS) for (const n of NS) for (const loss of LOSS) {
      bed = new TestBed({ receivers: n, mtu, lossPercent: Array(n).fill(loss), rate: RATE }, `b${n}l${loss}m${mtu}`);
      bed.up();
      const cell: Cell = { n, loss, mtu, runs: {} };
      for (let rep = 0; rep < REPS; rep++) {
        const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length]); // alternate who goes first
        for (const tool of order) {
          const r = await runOnce(tool, bed, mtu, input, hash, dir);
          (cell.runs[tool] ??= []).push(r);
          process.stderr.write(`N=${n} loss=${loss}% mtu=${mtu} ${tool.padEnd(7)} rep ${rep + 1}: ${r.ok ? `${(MIB / r.seconds).toFixed(1)} MiB/s` : 'FAILED'} (${r.seconds.toFixed(2)} s, ${r.detail})\n`);
        }
      }
      bed.down(); bed = null;
      cells.push(cell);
    }
  } finally { cleanup(); }
  const out = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  const md = markdown(cells, machine);
  fs.writeFileSync(path.join(out, `${NAME}.md`), md);
  fs.writeFileSync(path.join(out, `${NAME}.json`), JSON.stringify({ machine, config: { MIB, REPS, RATE, TOOLS }, cells }, null, 2) + '\n');
  fs.writeFileSync(path.join(out, `${NAME}.svg`), svgChart(cells));
  execFileSync('rsvg-convert', ['-o', path.join(out, `${NAME}.png`), path.join(out, `${NAME}.svg`)]);
  process.stdout.write(md);
}

void main();
