// Multi-host tier, compression: a zstd-compressed text dump from one namespace to three, 1 Gbit
// sender link, loss on every UDP frame two of the receivers get (nftables at ingress, per
// Ethernet frame). Each receiver keeps the plain dump, one the compressed stream; all exact.
// Needs root; CI runs as root. Outside CI without root it skips, saying why.
import t from 'tap';
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, sha256File, tempDir } from './helpers/dbcast';
import { TestBed, canRunBed, sweepStale } from './netns/testbed';

const GROUP = ['--group', '239.255.43.5', '--port', '9930', '--job', 'mhz'];

/** A COPY-style text dump: compresses as real text dumps do. */
function textDump(file: string, bytes: number): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  let n = 0;
  for (let size = 0; size < bytes;) {
    const lines: string[] = [];
    for (let i = 0; i < 10000; i++, n++) lines.push(`${n}\tKunde ${n % 977}\t2026-01-${String(1 + (n % 28)).padStart(2, '0')}\t${(n * 37) % 10000 / 100}\tnote ${(n * 2654435761 % 2 ** 32).toString(16)}`);
    const b = Buffer.from(lines.join('\n') + '\n');
    fs.writeSync(fd, b); h.update(b); size += b.length;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

const can = canRunBed();
if (!can.ok) {
  if (process.env.CI) t.fail(`multi-host tests must run in CI: ${can.why}`);
  else t.plan(0, `multi-host tests skipped: ${can.why}`);
} else {
  sweepStale();
  t.test('3 receivers, 2 % and 5 % loss, --compress zstd: every copy exact, plain and kept compressed', async (t) => {
    const dir = tempDir(t);
    const bed = new TestBed({ receivers: 3, mtu: 1500, lossPercent: [2, 5, 0], rate: '1gbit' }, 'z5');
    t.teardown(() => bed.down());
    bed.up();
    const input = path.join(dir, 'dump.sql');
    const hash = textDump(input, 48 << 20);
    const rx = bed.receivers.map((h, i) => dbcast(['receive', ...GROUP, '--interface', 'e0', '--name', `rx${i + 1}`, '--idle-timeout-sec', '5',
      '--output', path.join(dir, `rx${i + 1}.sql`), ...(i === 2 ? ['--store', 'compressed'] : [])], { netns: h.ns, timeoutMs: 240_000 }));
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--interface', 'e0', '--min-receivers', '3', '--max-wait-sec', '20', '--idle-timeout-sec', '5',
      '--compress', 'zstd', '--report', path.join(dir, 'report.json')], { stdinFile: input, netns: bed.sender.ns, timeoutMs: 240_000 }).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    t.ok(report.repairPacketsSent > 0, `${report.repairPacketsSent} repairs were needed and sent`);
    t.ok(report.totalBytes * 3 < fs.statSync(input).size, `${report.totalBytes} bytes sent for ${fs.statSync(input).size}`);
    t.equal(sha256File(path.join(dir, 'rx1.sql')), hash, 'rx1 (2 % loss): the plain dump, exact');
    t.equal(sha256File(path.join(dir, 'rx2.sql')), hash, 'rx2 (5 % loss): the plain dump, exact');
    const zst = path.join(dir, 'rx3.sql.zst');
    t.equal(createHash('sha256').update(execFileSync('zstd', ['-q', '-d', '-c', zst], { maxBuffer: 128 << 20 })).digest('hex'), hash, 'rx3 kept the compressed stream; it decompresses to the dump');
  });
}
