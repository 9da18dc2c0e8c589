// Fanout gathers the verified stream into large writes: every byte must reach every live sink
// once, in order, whatever the chunk sizes, and a trickle must still be written promptly.
import t from 'tap';
import { createHash, randomBytes } from 'crypto';
import { Fanout } from '../receiver/sinks/fanout';
import type { Sink, SinkFailure } from '../receiver/sinks/sink';

class RecordingSink implements Sink {
  readonly label = 'recording';
  readonly writes: Buffer[] = [];
  write(chunk: Buffer): boolean { this.writes.push(Buffer.from(chunk)); return true; }
  onDrain(): void { /* always ready */ }
  onFailure(): void { /* never fails */ }
  async finish(): Promise<SinkFailure | null> { return null; }
  async abort(): Promise<void> { /* nothing kept */ }
  get bytes(): Buffer { return Buffer.concat(this.writes); }
}

t.test('chunks of every size arrive whole and in order, in writes of at most 512 KiB', async (t) => {
  const a = new RecordingSink(); const b = new RecordingSink();
  const fanout = new Fanout([a, b], () => {});
  const stream = randomBytes(3 * 1024 * 1024 + 12345);
  // Sizes that straddle the gather boundary: datagram-sized, odd, and one bigger than a write.
  const sizes = [1448, 8948, 1, 700 * 1024, 3, 65507];
  let pos = 0; let i = 0;
  while (pos < stream.length) {
    const n = Math.min(sizes[i++ % sizes.length], stream.length - pos);
    fanout.write(stream.subarray(pos, pos + n), 0);
    pos += n;
  }
  await fanout.finish({ sha256: createHash('sha256').update(stream).digest('hex'), bytes: stream.length });
  for (const s of [a, b]) {
    t.ok(s.bytes.equals(stream), 'sink got the exact stream');
    t.ok(s.writes.every((w) => w.length <= 512 * 1024), 'no write above the gather size');
    t.ok(s.writes.length >= 6 && s.writes.length <= 8, `about one write per 512 KiB (got ${s.writes.length})`);
  }
});

t.test('a trickle is written once it is 20 ms old, and not before', async (t) => {
  const s = new RecordingSink();
  const fanout = new Fanout([s], () => {});
  fanout.write(Buffer.from('abc'), 1000);
  fanout.write(Buffer.from('def'), 1005);
  t.equal(fanout.flushDueInMs(1005), 15, 'due 20 ms after the first queued byte');
  fanout.flush(1019);
  t.equal(s.writes.length, 0, 'too young to write');
  fanout.flush(1020);
  t.same(s.writes.map(String), ['abcdef'], 'one write with both chunks');
  t.equal(fanout.flushDueInMs(1020), Infinity, 'nothing queued');
  fanout.write(Buffer.from('g'), 2000);
  fanout.flush(2000, true);
  t.same(s.writes.map(String), ['abcdef', 'g'], 'force writes at once');
});

t.test('a written buffer is not reused while a sink may still hold it', async (t) => {
  const s = new RecordingSink();
  const kept: Buffer[] = [];
  s.write = (chunk: Buffer): boolean => { kept.push(chunk); return true; }; // keeps the very buffer, as a stream does
  const fanout = new Fanout([s], () => {});
  fanout.write(Buffer.alloc(512 * 1024, 1), 0);
  fanout.write(Buffer.alloc(512 * 1024, 2), 0);
  fanout.flush(0, true);
  t.equal(kept.length, 2);
  t.ok(kept[0].every((x) => x === 1), 'first write still holds its own bytes');
  t.ok(kept[1].every((x) => x === 2));
});
