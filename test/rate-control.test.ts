// Unit tier for the sender's pacing: the token bucket and its AIMD rate.
import t from 'tap';
import { RateControl, type RateConfig } from '../protocol/rate-control';

// 8 Mbit/s is 1000 bytes per ms: token arithmetic below stays in round numbers.
const CFG: RateConfig = { maxRateBitsPerSec: 8e6, minRateFraction: 0.25, burstBytes: 10_000, intervalMs: 100, lossThreshold: 0.1 };
const MAX_BYTES_PER_MS = 1000;
const bytesPerMs = (rc: RateControl): number => rc.rateBitsPerSec / 8 / 1000;
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

/**
 * One AIMD interval ending at `endMs`: `news` new and `repairs` repair packets of 100 bytes
 * half-way through, then one more new packet at the interval's end, which closes it.
 */
function interval(rc: RateControl, endMs: number, news: number, repairs: number): void {
  for (let i = 0; i < news; i++) rc.handleSent(100, false, endMs - CFG.intervalMs / 2);
  for (let i = 0; i < repairs; i++) rc.handleSent(100, true, endMs - CFG.intervalMs / 2);
  rc.handleSent(100, false, endMs);
}

t.test('a full bucket lets one burst out at once, and no more', async (t) => {
  const rc = new RateControl(CFG, 0);
  t.equal(rc.waitMs(CFG.burstBytes, 0), 0, 'the whole burst now');
  t.ok(rc.waitMs(CFG.burstBytes + 1000, 0) > 0, 'more than the burst must wait');
  t.equal(rc.waitMs(CFG.burstBytes + 1000, 0), 1000 / MAX_BYTES_PER_MS, 'as long as the rate takes to make up the difference');
  t.equal(rc.rateBitsPerSec, CFG.maxRateBitsPerSec, 'starts at the max rate');
});

t.test('waitMs is pure: asking (at any time) changes nothing', async (t) => {
  const rc = new RateControl(CFG, 0);
  rc.handleSent(CFG.burstBytes, false, 0);
  const first = rc.waitMs(3000, 1);
  t.equal(first, 2, '2000 bytes short at 1 ms: 2 ms');
  t.equal(rc.waitMs(3000, 1), first, 'the same answer again');
  rc.waitMs(3000, 50); // a look into the future must not refill the bucket
  t.equal(rc.waitMs(3000, 1), first, 'still the same after asking about a later time');
  t.equal(rc.rateBitsPerSec, CFG.maxRateBitsPerSec);
});

t.test('sending drains tokens; time refills them up to the burst', async (t) => {
  const rc = new RateControl(CFG, 0);
  rc.handleSent(4000, false, 0);
  t.equal(rc.waitMs(6000, 0), 0, '6000 tokens left');
  t.equal(rc.waitMs(7000, 0), 1, '1000 bytes short: 1 ms');
  rc.handleSent(11_000, false, 0);
  t.equal(rc.waitMs(1000, 0), 6, 'overdrawn by 5000: the debt is paid first');
  t.equal(rc.waitMs(1000, 3), 3, 'refilled for 3 ms');
  t.equal(rc.waitMs(1000, 6), 0, 'and enough at 6 ms');
  t.equal(rc.waitMs(CFG.burstBytes, 1e6), 0, 'a long idle refills the bucket');
  t.equal(rc.waitMs(CFG.burstBytes + 500, 1e6), 0.5, 'but never beyond the burst');
});

t.test('AIMD: repairs above the threshold cut the rate, down to minRateFraction and no lower', async (t) => {
  const rc = new RateControl(CFG, 0);
  interval(rc, 100, 10, 5); // 5 repairs per 11 new
  t.ok(close(bytesPerMs(rc), 0.8 * MAX_BYTES_PER_MS), `one congested interval: x0.8 (${bytesPerMs(rc)} bytes/ms)`);
  interval(rc, 200, 10, 5);
  t.ok(close(bytesPerMs(rc), 0.64 * MAX_BYTES_PER_MS), `two: x0.64 (${bytesPerMs(rc)} bytes/ms)`);
  for (let k = 3; k <= 30; k++) interval(rc, k * 100, 10, 5);
  t.equal(bytesPerMs(rc), CFG.minRateFraction * MAX_BYTES_PER_MS, 'held at the floor');
  // The pace follows the rate: an emptied bucket refills at a quarter of the speed.
  rc.handleSent(CFG.burstBytes, false, 3001);
  t.equal(rc.waitMs(1000, 3001), 1000 / (CFG.minRateFraction * MAX_BYTES_PER_MS), 'tokens come at the reduced rate');
});

t.test('AIMD: a clean network (repairs at or under the threshold) adds max/20 per interval back to the max', async (t) => {
  const rc = new RateControl(CFG, 0);
  for (let k = 1; k <= 30; k++) interval(rc, k * 100, 10, 5);
  t.equal(bytesPerMs(rc), 250, 'start from the floor');
  let end = 3000;
  const steps: number[] = [];
  for (let k = 0; k < 15; k++) { end += 100; interval(rc, end, 10, 1); steps.push(Math.round(bytesPerMs(rc))); } // 1 repair per 11 new: under 0.1
  t.same(steps, Array.from({ length: 15 }, (_, i) => 250 + 50 * (i + 1)), 'one additive step per clean interval');
  end += 100; interval(rc, end, 10, 0);
  t.equal(rc.rateBitsPerSec, CFG.maxRateBitsPerSec, 'never above the max');
  // Exactly at the threshold (1 repair per 10 new) is not congestion.
  const edge = new RateControl(CFG, 0);
  interval(edge, 100, 9, 1);
  t.equal(edge.rateBitsPerSec, CFG.maxRateBitsPerSec, 'a ratio equal to the threshold does not cut');
  interval(edge, 200, 9, 2);
  t.ok(edge.rateBitsPerSec < CFG.maxRateBitsPerSec, 'just above it does');
});

t.test('no adjustment before an interval has passed', async (t) => {
  const rc = new RateControl(CFG, 0);
  for (let i = 0; i < 50; i++) rc.handleSent(100, true, 99);
  t.equal(rc.rateBitsPerSec, CFG.maxRateBitsPerSec, 'all repairs, but the interval is not over');
  rc.handleSent(100, true, 100);
  t.ok(rc.rateBitsPerSec < CFG.maxRateBitsPerSec, 'cut once it is');
});
