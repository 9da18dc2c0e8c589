// Unit tier for the receiver's loss detector: when a hole is NAKed, how the reorder delay is
// learned, how repeated NAKs back off, and its bound on holes.
import t from 'tap';
import { LossDetector, MAX_HOLES, type LossDetectorConfig } from '../protocol/loss-detector';
import { Rng } from './sim/rng';

// Figures of our own (not the defaults), so the arithmetic below does not move when those are tuned.
const CFG: LossDetectorConfig = { minReorderDelayMs: 1, initialReorderDelayMs: 16, maxReorderDelayMs: 50, minRetryMs: 3, initialRttMs: 10, random: () => 0 };
const detector = (over: Partial<LossDetectorConfig> = {}): LossDetector => new LossDetector({ ...CFG, ...over });

/** Bytes [0, 1000) and [2000, 3000) seen at `atMs`: the hole [1000, 2000) first seen then. */
function withHole(d: LossDetector, atMs: number): void {
  d.noteArrival(0, 1000, atMs);
  d.noteArrival(2000, 3000, atMs);
}

t.test('a hole is NAKed only once it outlived the reorder delay', async (t) => {
  const d = detector();
  withHole(d, 100);
  t.equal(d.holeCount, 1);
  t.equal(d.nextDueMs(), 116, 'due after the initial reorder delay');
  t.same(d.takeDue(115, 10), [], 'not before');
  t.same(d.takeDue(116, 10), [{ start: 1000, end: 2000 }], 'then NAKed');
  t.same(d.takeDue(116, 10), [], 'and not again at once');
});

t.test('in-order arrivals and duplicates make no hole', async (t) => {
  const d = detector();
  for (let i = 0; i < 10; i++) d.noteArrival(i * 100, (i + 1) * 100, i);
  d.noteArrival(300, 400, 20);
  t.equal(d.holeCount, 0);
  t.equal(d.nextDueMs(), Infinity);
});

t.test('a packet arriving late (before its NAK) teaches a larger reorder delay', async (t) => {
  const d = detector();
  withHole(d, 100);
  d.noteArrival(1000, 2000, 110); // 10 ms late
  t.equal(d.holeCount, 0, 'the hole is filled');
  t.equal(d.reorderedFills, 1, 'counted as reordered, not repaired');
  t.equal(d.reorderDelayMs, 40, 'four times the lateness seen');
  d.noteArrival(4000, 5000, 200);
  t.same(d.takeDue(239, 10), [], 'the next hole waits for the learned delay');
  t.same(d.takeDue(240, 10), [{ start: 3000, end: 4000 }]);
  const e = detector();
  withHole(e, 0);
  e.noteArrival(1000, 2000, 15); // 15 ms late: 60 ms, over the max
  t.equal(e.reorderDelayMs, CFG.maxReorderDelayMs, 'capped at maxReorderDelayMs');
});

t.test('a fill sooner after the NAK than a repair could come is reordering too', async (t) => {
  const d = detector({ maxReorderDelayMs: 100 });
  withHole(d, 0);
  t.same(d.takeDue(16, 10), [{ start: 1000, end: 2000 }]);
  d.noteArrival(1000, 2000, 18); // 2 ms after the NAK, under half the 10 ms round trip
  t.same([d.reorderedFills, d.repairedFills], [1, 0]);
  t.equal(d.reorderDelayMs, 72, '18 ms late, stretched four times');
  const e = detector({ maxReorderDelayMs: 100 });
  withHole(e, 0);
  e.takeDue(16, 10);
  e.noteArrival(1000, 2000, 30); // 14 ms after the NAK: a repair
  t.same([e.reorderedFills, e.repairedFills], [0, 1]);
  t.equal(e.reorderDelayMs, CFG.initialReorderDelayMs, 'a repair teaches no reorder delay');
});

t.test('repeated NAKs back off: the interval doubles up to 8 times the base', async (t) => {
  const d = detector();
  withHole(d, 0);
  const base = Math.max(CFG.minRetryMs, 2 * CFG.initialRttMs + CFG.initialReorderDelayMs); // 36 ms
  let now = 16;
  const intervals: number[] = [];
  for (let k = 0; k < 6; k++) {
    t.same(d.takeDue(now, 10), [{ start: 1000, end: 2000 }], `NAK ${k + 1} at ${now}`);
    const next = d.nextDueMs();
    t.same(d.takeDue(next - 0.001, 10), [], 'nothing before the backoff ends');
    intervals.push(next - now);
    now = next;
  }
  t.same(intervals, [1, 2, 4, 8, 8, 8].map((x) => x * base));
});

t.test('the backoff has jitter of up to a quarter, from the injected random source', async (t) => {
  const rng = new Rng(7);
  const d = detector({ random: () => rng.next() });
  withHole(d, 0);
  const base = 36;
  let now = 16;
  const seen = new Set<number>();
  for (let k = 0; k < 20; k++) {
    d.takeDue(now, 10);
    const gap = d.nextDueMs() - now;
    const nominal = base * (1 << Math.min(k, 3));
    t.ok(gap >= nominal && gap < nominal * 1.25, `NAK ${k + 1}: next in ${gap.toFixed(2)} ms, within [${nominal}, ${nominal * 1.25})`);
    seen.add(Math.round((gap / nominal) * 1000));
    now += gap;
  }
  t.ok(seen.size > 10, `the jitter varies (${seen.size} distinct values in 20)`);
});

t.test('holes split when the middle arrives; adjacent holes go out as one range', async (t) => {
  const d = detector();
  d.noteArrival(0, 1000, 0);
  d.noteArrival(4000, 5000, 0);
  d.noteArrival(2000, 3000, 1);
  t.equal(d.holeCount, 2, 'the middle split [1000, 4000) in two');
  t.same(d.takeDue(100, 10), [{ start: 1000, end: 2000 }, { start: 3000, end: 4000 }]);
  d.noteArrival(1000, 1500, 101);
  t.same(d.takeDue(1e6, 10), [{ start: 1500, end: 2000 }, { start: 3000, end: 4000 }], 'a fill at a hole\'s start leaves its end');
  const e = detector();
  e.noteArrival(0, 1000, 0);
  e.noteKnownEnd(2000, 0); // the sender says it sent up to 2000: the tail is missing
  e.noteKnownEnd(3000, 0);
  t.equal(e.holeCount, 2);
  t.same(e.takeDue(100, 10), [{ start: 1000, end: 3000 }], 'two adjacent holes, one NAK range');
  t.same(e.takeDue(1e6, 1).length, 1, 'max bounds the ranges');
});

t.test('dropBelow forgets holes that are behind the contiguous point', async (t) => {
  const d = detector();
  d.noteArrival(0, 1000, 0); d.noteArrival(2000, 3000, 0); d.noteArrival(4000, 5000, 0);
  d.dropBelow(3500);
  t.same(d.takeDue(1e6, 10), [{ start: 3500, end: 4000 }]);
});

t.test('real losses in a row bring the reorder delay back down', async (t) => {
  const d = detector();
  let at = 0;
  withHole(d, at);
  d.noteArrival(1000, 2000, 10); // reordered: the delay grows to 40
  t.equal(d.reorderDelayMs, 40);
  let end = 3000;
  for (let k = 0; k < 16; k++) {
    at += 1000;
    d.noteArrival(end + 1000, end + 2000, at); // a hole [end, end + 1000)
    d.takeDue(at + 100, 10);
    d.noteArrival(end, end + 1000, at + 120); // repaired 20 ms after the NAK
    end += 2000;
  }
  t.equal(d.repairedFills, 16);
  t.equal(d.reorderDelayMs, 20, 'halved after 16 repaired fills in a row');
});

t.test(`at most MAX_HOLES (${MAX_HOLES}) holes; past that the last one widens, so no loss is forgotten`, async (t) => {
  const d = detector();
  const n = MAX_HOLES + 100;
  for (let i = 0; i <= n; i++) d.noteArrival(20 * i, 20 * i + 10, 0); // a 10-byte hole after each
  t.equal(d.holeCount, MAX_HOLES);
  const naks = d.takeDue(1e6, Infinity);
  t.same(naks[0], { start: 10, end: 20 });
  t.same(naks[naks.length - 1], { start: 20 * (MAX_HOLES - 1) + 10, end: 20 * n }, 'the last hole reaches the last missing byte');
});
