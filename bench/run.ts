// `npm run bench`: what one host pays to move a GiB with dbcast, with udp-sender/udp-receiver and
// with N× unicast TCP, side by side in one run, on the network-namespace test bed (root). Each
// cell gets its own bed; tools alternate within a cell. Every tool's receivers run as users run
// them: the stream on their stdout, a real pipe into the same hashing consumer (`receiver |
// openssl dgst -sha256`, as in `dbcast receive | pg_restore`); a wrong or missing hash on any
// receiver scores the run 0. /usr/bin/time wraps the tool (its process tree: getrusage of the
// waited-for children) and, separately, the consumer, so both costs are known: the headline
// ratio charges udpcast the hash its consumer computes, since dbcast hashes the stream itself.
// Writes bench/results/latest.{md,json,svg,png}.
//
// Environment: BENCH_CELLS="1/1500/none 1/9000/none 3/1500/1gbit" (N/MTU/sender link rate or
//              none/loss % on every receiver, loss optional) BENCH_MIB=1024 BENCH_REPS=3
//              BENCH_TOOLS=dbcast,udpcast,tcp (also dbcast-key) BENCH_NAME=latest
//              BENCH_DBCAST_ARGS="--payload-bytes 1448" (extra dbcast send flags, for A/B tuning runs;
//              without it dbcast runs in its default configuration)
//              BENCH_DIR=/dev/shm (input; tmpfs by default, see below)
//              BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (node flags for dbcast's processes, to profile them)
// dbcast-key is dbcast in keyed mode (--key-file): the cost of AES-256-GCM, same bed, same run.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { randomFile } from '../test/helpers/dbcast';
import { TestBed, canRunBed, sweepStale } from '../test/netns/testbed';

const list = (v: string | undefined, def: string): string[] => (v ?? def).split(',').map((s) => s.trim()).filter(Boolean);
interface CellSpec { n: number; mtu: number; rate: string | null; loss: number }
const parseCell = (spec: string): CellSpec => {
  const m = /^(\d+)\/(\d+)\/(none|\d+(?:\.\d+)?[kmg]?bit)(?:\/(\d+(?:\.\d+)?))?$/i.exec(spec);
  if (!m) throw new Error(`BENCH_CELLS: each cell is N/MTU/RATE[/LOSS%], e.g. 3/1500/1gbit or 1/9000/none; got ${spec}`);
  return { n: Number(m[1]), mtu: Number(m[2]), rate: m[3] === 'none' ? null : m[3], loss: Number(m[4] ?? 0) };
};
const CELLS = list(process.env.BENCH_CELLS?.replace(/\s+/g, ','), '1/1500/none,1/9000/none,3/1500/1gbit').map(parseCell);
const MIB = Number(process.env.BENCH_MIB ?? 1024);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const TOOLS = list(process.env.BENCH_TOOLS, 'dbcast,udpcast,tcp');
const NAME = process.env.BENCH_NAME ?? 'latest';
const DBCAST_EXTRA = list(process.env.BENCH_DBCAST_ARGS?.replace(/\s+/g, ','), '');
const NODE_ARGS = list(process.env.BENCH_NODE_ARGS?.replace(/\s+/g, ','), '');
// Long enough for the slowest tool at N = 3 behind 1 Gbit/s (about 25 MiB/s), with room.
const RUN_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SEC ?? Math.max(90, 30 + MIB / 10)) * 1000;
// Input on tmpfs: the bench measures the network, not the disk. Receivers write no file (their
// stdout goes into HASH_CONSUMER), so no tool pays for a disk or an fsync the others skip.
const BENCH_DIR = process.env.BENCH_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
// What every receiver's stdout is piped into. openssl rather than coreutils' sha256sum: with the
// CPU's SHA extensions it hashes 256 MiB in 0.46 CPU s, sha256sum in 1.6 (measured on the bench
// machine), and all hosts of the bed share two cores: with sha256sum, six of them would compete
// with the tools for the cores and the bench would measure sha256sum. It is also the stricter
// choice: the headline charges udpcast this hash, a slower one would flatter dbcast's ratio.
// Prints "<hex> *stdin".
const HASH_CONSUMER = 'openssl dgst -sha256 -r';

// Compiled to dist/bench/: the project root is the nearest folder up with package.json.
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const TCP = path.join(ROOT, 'dist', 'bench', 'tcp-fanout.js');

interface Proc { code: number | null; userSec: number; sysSec: number; maxRssKb: number }
interface RunResult {
  ok: boolean; seconds: number; wireBytes: number; senderCpuSec: number; receiverCpuSec: number; consumerCpuSec: number;
  senderRssKb: number; receiverRssKb: number; detail: string;
}

function rateBitsPerSec(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)bit$/i.exec(rate);
  if (!m) throw new Error(`a rate must look like 1gbit or 500mbit, got ${rate}`);
  return Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
}

/** UDP payload bytes/s the link can carry: tbf charges the Ethernet header too. */
const payloadLimitBytesPerSec = (rate: string, mtu: number): number => (rateBitsPerSec(rate) / 8) * (mtu - 28) / (mtu + 14);

const readTime = (file: string): { userSec: number; sysSec: number; maxRssKb: number } => {
  try {
    const last = fs.readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    const [userSec, sysSec, maxRssKb] = last.split(' ').map(Number);
    return { userSec, sysSec, maxRssKb };
  } catch { return { userSec: 0, sysSec: 0, maxRssKb: 0 }; } // killed before time wrote its line
  finally { fs.rmSync(file, { force: true }); }
};

/**
 * Run argv in a namespace under /usr/bin/time (CPU of argv and every child it waited for);
 * resolves with exit code and CPU. With `hashTo`, argv's stdout is a real pipe into
 * `HASH_CONSUMER > hashTo` (a shell pipeline; Node's stdio pipes are socket pairs), the consumer
 * under its own /usr/bin/time (its CPU in `consumer`), and the exit code is argv's (the group
 * writes it down, a pipeline's own status is its last command's).
 */
function timed(ns: string, argv: string[], timeoutMs: number, hashTo?: string): Promise<Proc & { consumer: Proc }> {
  const timeFile = path.join(os.tmpdir(), `dbcast-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const consumerTimeFile = `${timeFile}.consumer`;
  const timedArgv = ['/usr/bin/time', '-f', '%U %S %M', '-o', timeFile, ...argv];
  const codeFile = `${timeFile}.code`;
  const script = `code=$1 out=$2 ctime=$3; shift 3; { "$@"; echo $? > "$code"; } | /usr/bin/time -f '%U %S %M' -o "$ctime" ${HASH_CONSUMER} > "$out"; exit "$(cat "$code" 2>/dev/null || echo 125)"`;
  const cmd = hashTo ? ['sh', '-c', script, 'sh', codeFile, hashTo, consumerTimeFile, ...timedArgv] : timedArgv;
  // Own process group: on timeout the tool itself (a child of `time`) must die too, or it
  // keeps its port and fails the next run.
  const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  const limit = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(limit);
      const own = readTime(timeFile);
      const consumer = hashTo ? readTime(consumerTimeFile) : { userSec: 0, sysSec: 0, maxRssKb: 0 };
      fs.rmSync(codeFile, { force: true });
      resolve({ code, ...own, consumer: { code: 0, ...consumer } });
    });
  });
}

const txBytes = (ns: string): number =>
  Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/e0/statistics/tx_bytes'], { encoding: 'utf8' }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runOnce(tool: string, bed: TestBed, spec: CellSpec, input: string, hash: string, dir: string): Promise<RunResult> {
  const n = bed.receivers.length;
  // Each receiver's stdout goes into `HASH_CONSUMER > this` (see timed()).
  const outs = bed.receivers.map((_, i) => path.join(dir, `${tool}-rx${i + 1}.sha256`));
  outs.forEach((f) => fs.rmSync(f, { force: true }));
  let receivers: Promise<Proc & { consumer: Proc }>[];
  let senderArgv: string[];
  if (tool === 'dbcast' || tool === 'dbcast-key') {
    const keyed = tool === 'dbcast-key';
    const keyFile = path.join(dir, 'bench.key');
    if (keyed && !fs.existsSync(keyFile)) { fs.writeFileSync(keyFile, randomBytes(32)); fs.chmodSync(keyFile, 0o600); }
    const common = ['--interface', 'e0', '--group', '239.77.1.1', '--port', '9500', '--job', 'bench', '--idle-timeout-sec', '10', ...(keyed ? ['--key-file', keyFile] : [])];
    // No sink flag: the stream goes to stdout, into the pipe.
    receivers = bed.receivers.map((h, i) => timed(h.ns, [process.execPath, ...NODE_ARGS, DBCAST, 'receive', ...common, '--name', `rx${i + 1}`], RUN_TIMEOUT_MS, outs[i]));
    // The default configuration: payload size read off the interface MTU, max rate 1000 Mbit/s
    // (told only when the bench link is another rate; an uncapped link keeps the default).
    const rateMbps = spec.rate ? rateBitsPerSec(spec.rate) / 1e6 : 1000;
    senderArgv = [process.execPath, ...NODE_ARGS, DBCAST, 'send', ...common, '--min-receivers', String(n),
      ...(rateMbps === 1000 ? [] : ['--max-rate-mbps', String(rateMbps)]), ...DBCAST_EXTRA];
    senderArgv = ['sh', '-c', `exec "$@" < ${input}`, 'sh', ...senderArgv];
  } else if (tool === 'udpcast') {
    const common = ['--interface', 'e0', '--nokbd', '--mcast-rdv-address', '239.77.1.9', '--portbase', '9600'];
    const block = spec.mtu > 1500 ? ['--blocksize', String(spec.mtu - 100)] : [];
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
    // Per receiver host: the mean over the cell's receivers.
    receiverCpuSec: rx.reduce((a, r) => a + r.userSec + r.sysSec, 0) / n,
    consumerCpuSec: rx.reduce((a, r) => a + r.consumer.userSec + r.consumer.sysSec, 0) / n,
    senderRssKb: sender.maxRssKb,
    receiverRssKb: Math.max(0, ...rx.map((r) => r.maxRssKb)),
    detail: `${good}/${n} byte-exact, sender exit ${sender.code}, receivers ${rx.map((r) => r.code).join(',')}`,
  };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : 0; };

interface Cell extends CellSpec { runs: Record<string, RunResult[]> }

const cellName = (c: CellSpec): string => `N=${c.n}, MTU ${c.mtu}, ${c.rate ? c.rate.replace(/bit$/i, 'bit/s') : 'no rate cap'}${c.loss ? `, ${c.loss} % loss` : ''}`;

function summarize(cell: Cell, tool: string) {
  const runs = cell.runs[tool] ?? [];
  const gib = MIB / 1024;
  // A run that did not deliver correct bytes scores 0.
  const goodput = median(runs.map((r) => (r.ok ? MIB / r.seconds : 0)));
  const okRuns = runs.filter((r) => r.ok);
  const med = (get: (r: RunResult) => number): number => (okRuns.length ? median(okRuns.map(get)) : NaN);
  return {
    goodputMiBs: goodput,
    fractionOfLimit: cell.rate ? (goodput * 1048576) / payloadLimitBytesPerSec(cell.rate, cell.mtu) : NaN,
    wirePerPayload: med((r) => r.wireBytes / (MIB * 1048576)),
    senderCpuPerGiB: med((r) => r.senderCpuSec / gib),
    receiverCpuPerGiB: med((r) => r.receiverCpuSec / gib),
    consumerCpuPerGiB: med((r) => r.consumerCpuSec / gib),
    senderRssMiB: okRuns.length ? Math.max(...okRuns.map((r) => r.senderRssKb)) / 1024 : NaN,
    receiverRssMiB: okRuns.length ? Math.max(...okRuns.map((r) => r.receiverRssKb)) / 1024 : NaN,
    okRuns: okRuns.length, runs: runs.length,
  };
}

const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${f(a / b, 2)}×` : '–');

/** The short table (README): per host, per GiB, dbcast against udpcast. */
function headline(cells: Cell[]): string[] {
  const lines = [
    '| cell | dbcast MiB/s | udpcast MiB/s | TCP MiB/s | sender CPU s/GiB dbcast / udpcast | ratio | receiver CPU s/GiB dbcast / udpcast + hash | ratio | receiver host incl. consumer, ratio |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cells) {
    const d = summarize(c, 'dbcast'); const u = summarize(c, 'udpcast'); const t = summarize(c, 'tcp');
    const uHashed = u.receiverCpuPerGiB + u.consumerCpuPerGiB;
    lines.push(`| ${cellName(c)} | ${f(d.goodputMiBs)} | ${f(u.goodputMiBs)} | ${f(t.goodputMiBs)} | ${f(d.senderCpuPerGiB, 2)} / ${f(u.senderCpuPerGiB, 2)} | ${ratio(d.senderCpuPerGiB, u.senderCpuPerGiB)} | ${f(d.receiverCpuPerGiB, 2)} / ${f(u.receiverCpuPerGiB, 2)} + ${f(u.consumerCpuPerGiB, 2)} | ${ratio(d.receiverCpuPerGiB, uHashed)} | ${ratio(d.receiverCpuPerGiB + d.consumerCpuPerGiB, uHashed)} |`);
  }
  return lines;
}

function markdown(cells: Cell[], machine: Record<string, unknown>): string {
  const lines = [
    `Bench: ${MIB} MiB per run, median of ${REPS}, tools alternating; ${machine.date}.`,
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}, net.core.rmem_max ${machine.rmemMaxBytes}. All hosts share these cores. Input in ${machine.dir} (${machine.dirFs}); every receiver's stdout is a pipe into \`${HASH_CONSUMER}\`.`,
    '',
    ...headline(cells),
    '',
    'CPU = user + system seconds of the tool\'s process tree (/usr/bin/time around it: the process and the children it waited for) per GiB of payload, medians; receiver = per receiver host (mean over the cell\'s receivers). The hashing consumer is timed on its own: "+ hash" is its CPU in the udpcast runs. dbcast hashes the stream itself to verify it, so its receiver column is compared with udpcast plus that hash; the last column compares whole receiver hosts, both with the consumer. GiB/s per core a receiver can take = 1 / its CPU s/GiB.',
    '',
    '| cell | tool | MiB/s (ok/runs) | % of link | wire/payload | sender CPU s/GiB | receiver CPU s/GiB | consumer CPU s/GiB | peak RSS MiB sender / receiver |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cells) {
    for (const tool of TOOLS) {
      const s = summarize(c, tool);
      lines.push(`| ${cellName(c)} | ${tool} | ${f(s.goodputMiBs)} (${s.okRuns}/${s.runs}) | ${Number.isFinite(s.fractionOfLimit) ? `${f(100 * s.fractionOfLimit, 0)} %` : '–'} | ${f(s.wirePerPayload, 3)} | ${f(s.senderCpuPerGiB, 2)} | ${f(s.receiverCpuPerGiB, 2)} | ${f(s.consumerCpuPerGiB, 2)} | ${f(s.senderRssMiB, 0)} / ${f(s.receiverRssMiB, 0)} |`);
    }
  }
  lines.push('', 'Goodput = payload MiB per second per receiver, from the sender\'s start to the last receiver\'s exit (join included). (ok/runs) = runs byte-exact on every receiver. Link limit = UDP payload the tbf rate carries at that MTU. Wire bytes are counted at the sender\'s interface, Ethernet headers included.');
  return lines.join('\n') + '\n';
}

function svgChart(cells: Cell[]): string {
  // Per-host cost: receiver CPU s/GiB per tool and cell (lower is better).
  const tools = TOOLS.filter((t) => t !== 'dbcast-key');
  const colors: Record<string, string> = { dbcast: '#1f77b4', udpcast: '#ff7f0e', tcp: '#2ca02c' };
  const W = Math.max(600, 110 * cells.length + 120); const H = 360; const left = 60; const bottom = 300;
  const val = (c: Cell, t: string): number => { const s = summarize(c, t); return (s.receiverCpuPerGiB || 0) + (s.consumerCpuPerGiB || 0); };
  const max = Math.max(1, ...cells.flatMap((c) => tools.map((t) => val(c, t))));
  const scale = (v: number): number => (v / max) * 260;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="16" font-size="13">Receiver host CPU s per GiB (tool + hashing consumer), ${MIB} MiB runs; lower is better</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${W - 20}" y2="${bottom}" stroke="black"/>`];
  const step = Math.max(1, Math.ceil(max / 8));
  for (let v = 0; v <= max; v += step) {
    parts.push(`<text x="${left - 6}" y="${bottom - scale(v) + 4}" text-anchor="end">${v}</text>`, `<line x1="${left}" y1="${bottom - scale(v)}" x2="${W - 20}" y2="${bottom - scale(v)}" stroke="#ddd"/>`);
  }
  cells.forEach((c, i) => {
    const x0 = left + 10 + i * 110;
    tools.forEach((t, j) => {
      const v = val(c, t);
      parts.push(`<rect x="${x0 + j * 22}" y="${bottom - scale(v)}" width="20" height="${scale(v)}" fill="${colors[t] ?? '#999'}"/>`);
    });
    parts.push(`<text x="${x0 + 33}" y="${bottom + 14}" text-anchor="middle">N=${c.n} MTU ${c.mtu}</text>`, `<text x="${x0 + 33}" y="${bottom + 27}" text-anchor="middle">${c.rate ?? 'no cap'}</text>`);
  });
  tools.forEach((t, j) => parts.push(`<rect x="${left + j * 90}" y="${H - 20}" width="12" height="12" fill="${colors[t] ?? '#999'}"/><text x="${left + j * 90 + 16}" y="${H - 10}">${t}</text>`));
  parts.push('</svg>');
  return parts.join('\n');
}

async function main(): Promise<void> {
  const can = canRunBed();
  if (!can.ok) { process.stderr.write(`bench: ${can.why}\n`); process.exit(2); }
  const have = (tool: string): boolean => { try { execFileSync('sh', ['-c', `command -v ${tool}`]); return true; } catch { return false; } };
  for (const tool of ['/usr/bin/time', 'udp-sender', 'openssl']) {
    if (!have(tool)) { process.stderr.write(`bench: needs ${tool} (apt-get install time udpcast openssl)\n`); process.exit(2); }
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
    for (const spec of CELLS) {
      bed = new TestBed({ receivers: spec.n, mtu: spec.mtu, lossPercent: Array(spec.n).fill(spec.loss), ...(spec.rate ? { rate: spec.rate } : {}) },
        `b${spec.n}l${spec.loss}m${spec.mtu}`);
      bed.up();
      const cell: Cell = { ...spec, runs: {} };
      for (let rep = 0; rep < REPS; rep++) {
        const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length]); // alternate who goes first
        for (const tool of order) {
          const r = await runOnce(tool, bed, spec, input, hash, dir);
          (cell.runs[tool] ??= []).push(r);
          const gib = MIB / 1024;
          process.stderr.write(`${cellName(spec)} ${tool.padEnd(7)} rep ${rep + 1}: ${r.ok ? `${(MIB / r.seconds).toFixed(1)} MiB/s` : 'FAILED'} (${r.seconds.toFixed(2)} s, CPU s/GiB sender ${(r.senderCpuSec / gib).toFixed(2)} receiver ${(r.receiverCpuSec / gib).toFixed(2)} consumer ${(r.consumerCpuSec / gib).toFixed(2)}, ${r.detail})\n`);
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
  fs.writeFileSync(path.join(out, `${NAME}.json`), JSON.stringify({ machine, config: { MIB, REPS, CELLS, TOOLS, HASH_CONSUMER }, cells }, null, 2) + '\n');
  fs.writeFileSync(path.join(out, `${NAME}.svg`), svgChart(cells));
  // The PNG (for viewers without SVG) only where librsvg2-bin is installed.
  if (have('rsvg-convert')) execFileSync('rsvg-convert', ['-o', path.join(out, `${NAME}.png`), path.join(out, `${NAME}.svg`)]);
  else process.stderr.write('bench: no rsvg-convert (librsvg2-bin): wrote the SVG chart only\n');
  process.stdout.write(md);
}

void main();
