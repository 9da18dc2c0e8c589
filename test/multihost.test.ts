// Multi-host tier: sender and receivers in their own network namespaces on a bridge, with
// loss on every UDP frame a receiver gets (data and control alike), link rate limits and
// jumbo frames. Needs root; CI runs as root. Outside CI without root it skips, saying why.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, randomFile, sha256File, sleep, tempDir } from './helpers/dbcast';
import { TestBed, canRunBed, sweepStale, type BedConfig } from './netns/testbed';

const GROUP = ['--group', '239.77.0.1', '--port', '9400', '--job', 'mh'];
const can = canRunBed();
if (!can.ok) {
  if (process.env.CI) t.fail(`multi-host tests must run in CI: ${can.why}`);
  else t.plan(0, `multi-host tests skipped: ${can.why}`);
} else {
  sweepStale();
  run();
}

interface Case {
  bed: BedConfig;
  mib: number;
  sendArgs?: string[];
  receiverArgs?: (i: number, dir: string) => string[];
  during?: (ctx: { bed: TestBed; rx: ReturnType<typeof dbcast>[]; send: ReturnType<typeof dbcast> }) => Promise<void>;
}

async function transfer(t: tap.Test, id: string, c: Case) {
  const dir = tempDir(t);
  const bed = new TestBed(c.bed, id);
  t.teardown(() => bed.down());
  bed.up();
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, c.mib << 20);
  const rx = bed.receivers.map((h, i) => dbcast(['receive', ...GROUP, '--interface', 'e0', '--name', `rx${i + 1}`, '--idle-timeout-sec', '5',
    '--output', path.join(dir, `rx${i + 1}.dump`), ...(c.receiverArgs?.(i, dir) ?? [])], { netns: h.ns, timeoutMs: 240_000 }));
  await sleep(300);
  const send = dbcast(['send', ...GROUP, '--interface', 'e0', '--min-receivers', String(c.bed.receivers), '--max-wait-sec', '20',
    '--idle-timeout-sec', '5', '--report', path.join(dir, 'report.json'), ...(c.sendArgs ?? [])], { stdinFile: input, netns: bed.sender.ns, timeoutMs: 240_000 });
  if (c.during) await c.during({ bed, rx, send });
  const s = await send.done;
  const rs = await Promise.all(rx.map((r) => r.done));
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  const outputs = bed.receivers.map((_, i) => {
    const f = path.join(dir, `rx${i + 1}.dump`);
    return fs.existsSync(f) ? sha256File(f) : null;
  });
  return { s, rs, report, outputs, hash };
}

function run(): void {
  const allOk = (t: tap.Test, r: Awaited<ReturnType<typeof transfer>>) => {
    t.equal(r.s.code, 0, 'sender exit 0', { stderr: r.s.stderr });
    r.rs.forEach((x, i) => t.equal(x.code, 0, `receiver ${i + 1} exit 0`, { stderr: x.stderr }));
    r.outputs.forEach((h, i) => t.equal(h, r.hash, `receiver ${i + 1} byte-exact`));
    t.ok(r.report.receivers.every((x: { outcome: string }) => x.outcome === 'ok'), 'report: every receiver ok');
  };

  t.test('3 receivers, no loss, 1 Gbit/s sender link', async (t) => {
    const r = await transfer(t, 'a', { bed: { receivers: 3, mtu: 1500, lossPercent: [], rate: '1gbit' }, mib: 32 });
    allOk(t, r);
    t.ok(r.report.bytesOnWire / r.report.totalBytes < 1.1, `wire bytes per payload byte ${(r.report.bytesOnWire / r.report.totalBytes).toFixed(3)}`);
  });

  t.test('6 receivers, 5 % loss on every UDP frame each receiver gets', async (t) => {
    const r = await transfer(t, 'b', { bed: { receivers: 6, mtu: 1500, lossPercent: [5, 5, 5, 5, 5, 5], rate: '1gbit' }, mib: 16 });
    allOk(t, r);
    t.ok(r.report.repairPacketsSent > 0, `${r.report.repairPacketsSent} repairs were needed and sent`);
  });

  t.test('3 receivers, 15 % loss on every UDP frame', async (t) => {
    const r = await transfer(t, 'c', { bed: { receivers: 3, mtu: 1500, lossPercent: [15, 15, 15], rate: '1gbit' }, mib: 8 });
    allOk(t, r);
  });

  t.test('MTU 9000 with 8948-byte payloads', async (t) => {
    const r = await transfer(t, 'd', { bed: { receivers: 3, mtu: 9000, lossPercent: [], rate: '1gbit' }, mib: 32, sendArgs: ['--payload-bytes', '8948'] });
    allOk(t, r);
  });

  t.test('a receiver killed mid-transfer is dropped; the others finish', async (t) => {
    const r = await transfer(t, 'e', {
      bed: { receivers: 3, mtu: 1500, lossPercent: [], rate: '100mbit' }, mib: 48,
      during: async ({ rx, send }) => { await send.stderrMatch(/starting transfer/); await sleep(1000); rx[1].child.kill('SIGKILL'); },
    });
    t.equal(r.s.code, 4, 'sender exit 4', { stderr: r.s.stderr });
    t.equal(r.rs[0].code, 0); t.equal(r.rs[2].code, 0);
    t.equal(r.outputs[0], r.hash); t.equal(r.outputs[2], r.hash);
    t.equal(r.outputs[1], null, 'no final file from the killed receiver');
    const killed = r.report.receivers.find((x: { name: string }) => x.name === 'rx2');
    t.same([killed.outcome, killed.code], ['dropped', 'silent']);
  });

  // ~3 MB/s: reads 64 KiB, then naps 20 ms; the others drain at full speed.
  const slowPipe = `${process.execPath} -e "process.stdin.on('data',()=>{process.stdin.pause();setTimeout(()=>process.stdin.resume(),20)})"`;

  t.test('a 10x slower consumer holds everyone back but loses nothing (no drop-after)', async (t) => {
    const r = await transfer(t, 'f', {
      bed: { receivers: 3, mtu: 1500, lossPercent: [], rate: '1gbit' }, mib: 12,
      sendArgs: ['--window-mib', '2'],
      receiverArgs: (i) => (i === 2 ? ['--pipe', slowPipe] : []),
    });
    allOk(t, r);
  });

  t.test('a 10x slower consumer is dropped with --drop-after-sec; the others finish', async (t) => {
    const r = await transfer(t, 'g', {
      bed: { receivers: 3, mtu: 1500, lossPercent: [], rate: '1gbit' }, mib: 24,
      sendArgs: ['--window-mib', '2', '--drop-after-sec', '1'],
      receiverArgs: (i) => (i === 2 ? ['--pipe', slowPipe] : []),
    });
    t.equal(r.s.code, 4, 'sender exit 4', { stderr: r.s.stderr });
    t.equal(r.rs[2].code, 4, 'the slow receiver exits 4 (dropped)', { stderr: r.rs[2].stderr });
    t.equal(r.outputs[0], r.hash); t.equal(r.outputs[1], r.hash);
    t.equal(r.outputs[2], null, 'the dropped receiver kept no file');
    const slow = r.report.receivers.find((x: { name: string }) => x.name === 'rx3');
    t.same([slow.outcome, slow.code], ['dropped', 'too-slow']);
  });
}
