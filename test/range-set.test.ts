// Unit tier for RangeSet: what a receiver holds above its contiguous point, and the holes.
import t from 'tap';
import { RangeSet } from '../protocol/range-set';
import { Rng } from './sim/rng';

const set = (...ranges: [number, number][]): RangeSet => {
  const s = new RangeSet();
  for (const [a, b] of ranges) s.add(a, b);
  return s;
};
/** The held ranges, read back as the complement of the holes in [0, limit). */
const held = (s: RangeSet, limit = 1000): [number, number][] => {
  const out: [number, number][] = [];
  let cursor = 0;
  for (const g of s.gaps(0, limit, Infinity)) { if (g.start > cursor) out.push([cursor, g.start]); cursor = g.end; }
  if (cursor < limit) out.push([cursor, limit]);
  return out;
};

t.test('add keeps ranges disjoint and sorted; overlapping and adjacent ranges merge', async (t) => {
  const s = set([30, 40], [10, 20]);
  t.equal(s.count, 2);
  t.same(held(s), [[10, 20], [30, 40]], 'sorted whatever the order of adds');
  s.add(20, 25);
  t.same(held(s), [[10, 25], [30, 40]], 'a range starting where one ends extends it');
  s.add(5, 10);
  t.same(held(s), [[5, 25], [30, 40]], 'a range ending where one starts extends it');
  s.add(12, 18);
  t.same(held(s), [[5, 25], [30, 40]], 'a range inside changes nothing');
  s.add(24, 31);
  t.same(held(s), [[5, 40]], 'one that bridges two merges all three');
  t.equal(s.count, 1);
  s.add(50, 60); s.add(70, 80); s.add(0, 100);
  t.same(held(s, 200), [[0, 100]], 'one that covers several swallows them');
  t.equal(s.count, 1);
});

t.test('overlaps: shares a byte; touches: would merge', async (t) => {
  const s = set([10, 20]);
  t.notOk(s.overlaps(0, 10), 'ending where it starts: no byte shared');
  t.ok(s.overlaps(0, 11));
  t.ok(s.overlaps(19, 30));
  t.notOk(s.overlaps(20, 30), 'starting where it ends: no byte shared');
  t.ok(s.overlaps(12, 13), 'inside');
  t.ok(s.overlaps(0, 100), 'around');
  t.ok(s.touches(0, 10), 'adjacent below merges');
  t.ok(s.touches(20, 30), 'adjacent above merges');
  t.notOk(s.touches(0, 9), 'a byte apart below');
  t.notOk(s.touches(21, 30), 'a byte apart above');
  t.notOk(new RangeSet().overlaps(0, 100) || new RangeSet().touches(0, 100), 'the empty set');
});

t.test('dropBelow removes what is below and trims a range across the offset', async (t) => {
  const s = set([10, 20], [30, 40], [50, 60]);
  s.dropBelow(20);
  t.same(held(s), [[30, 40], [50, 60]], 'a range ending at the offset goes');
  s.dropBelow(35);
  t.same(held(s), [[35, 40], [50, 60]], 'a range across it is trimmed');
  s.dropBelow(45);
  t.same(held(s), [[50, 60]]);
  s.dropBelow(1000);
  t.equal(s.count, 0);
});

t.test('gaps: the holes in [from, to), lowest first, at most max', async (t) => {
  const s = set([10, 20], [30, 40]);
  t.same(s.gaps(0, 50, 10), [{ start: 0, end: 10 }, { start: 20, end: 30 }, { start: 40, end: 50 }]);
  t.same(s.gaps(0, 50, 2), [{ start: 0, end: 10 }, { start: 20, end: 30 }], 'max cuts the list, lowest kept');
  t.same(s.gaps(0, 50, 0), [], 'max 0');
  t.same(s.gaps(15, 35, 10), [{ start: 20, end: 30 }], 'from and to inside ranges');
  t.same(s.gaps(12, 18, 10), [], 'nothing missing inside a range');
  t.same(s.gaps(22, 28, 10), [{ start: 22, end: 28 }], 'all missing inside a hole');
  t.same(s.gaps(40, 40, 10), [], 'an empty span');
  t.same(new RangeSet().gaps(5, 9, 3), [{ start: 5, end: 9 }], 'the empty set misses everything');
});

/** The same questions answered from one bit per byte. */
class Bitmap {
  readonly bits: boolean[];
  constructor(size: number) { this.bits = new Array<boolean>(size).fill(false); }
  add(a: number, b: number): void { for (let i = a; i < b; i++) this.bits[i] = true; }
  dropBelow(x: number): void { for (let i = 0; i < Math.min(x, this.bits.length); i++) this.bits[i] = false; }
  private any(a: number, bInclusive: number): boolean {
    for (let i = Math.max(0, a); i <= bInclusive && i < this.bits.length; i++) if (this.bits[i]) return true;
    return false;
  }
  overlaps(a: number, b: number): boolean { return this.any(a, b - 1); }
  touches(a: number, b: number): boolean { return this.any(a - 1, b); }
  get count(): number { let n = 0; for (let i = 0; i < this.bits.length; i++) if (this.bits[i] && (i === 0 || !this.bits[i - 1])) n++; return n; }
  gaps(from: number, to: number, max: number): { start: number; end: number }[] {
    const out: { start: number; end: number }[] = [];
    for (let i = from; i < to && out.length < max;) {
      if (this.bits[i]) { i++; continue; }
      let j = i; while (j < to && !this.bits[j]) j++;
      out.push({ start: i, end: j }); i = j;
    }
    return out;
  }
}

t.test('an empty span overlaps nothing, even inside a range', async (t) => {
  const s = new RangeSet();
  s.add(10, 20);
  t.notOk(s.overlaps(15, 15));
  t.ok(s.overlaps(15, 16));
});

t.test('randomized: RangeSet answers as a bitmap does', async (t) => {
  const SIZE = 300;
  let checks = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new Rng(seed);
    const s = new RangeSet(); const m = new Bitmap(SIZE);
    for (let op = 0; op < 300; op++) {
      const a = rng.int(0, SIZE - 2); const b = rng.int(a + 1, Math.min(SIZE - 1, a + 40));
      if (rng.chance(0.05)) { s.dropBelow(a); m.dropBelow(a); } else { s.add(a, b); m.add(a, b); }
      // Non-empty questions here; empty spans have their own test.
      const x = rng.int(0, SIZE - 2); const y = rng.int(x + 1, SIZE - 1);
      const max = rng.int(0, 6);
      const got = { count: s.count, overlaps: s.overlaps(x, y), touches: s.touches(x, y), gaps: s.gaps(x, y, max) };
      const want = { count: m.count, overlaps: m.overlaps(x, y), touches: m.touches(x, y), gaps: m.gaps(x, y, max) };
      checks++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        t.same(got, want, `seed ${seed} op ${op}: after ${a}..${b}, asking [${x}, ${y}) max ${max}`);
        return;
      }
    }
  }
  t.equal(checks, 20 * 300, 'every step agreed');
});
