// Per-family figures and failures over a seed range, for comparing the protocol before and after
// a change (or a mutation). Run: npx ts-node --transpile-only test/sim/figures.ts [first] [count] [family,...]
import { runScenario } from './simulator';
import { FAMILIES, makeScenario } from './scenarios';
import { checkCost, checkResult } from './invariants';

const first = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? FAMILIES.length * 20);
const only = process.argv[4] ? new Set(process.argv[4].split(',')) : null;

interface Row { runs: number; failed: number; data: number; repairs: number; lost: number; lostPackets: number; naked: number; ms: number; socketDrops: number; bottleneckDrops: number; reordered: number }
const rows = new Map<string, Row>();
const failures: string[] = [];
for (let seed = first; seed < first + count; seed++) {
  const family = FAMILIES[seed % FAMILIES.length];
  if (only && !only.has(family)) continue;
  const t0 = process.hrtime.bigint();
  const sc = makeScenario(seed);
  const res = runScenario(sc);
  const bad = [...checkResult(res), ...checkCost(res)];
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const row = rows.get(family) ?? { runs: 0, failed: 0, data: 0, repairs: 0, lost: 0, lostPackets: 0, naked: 0, ms: 0, socketDrops: 0, bottleneckDrops: 0, reordered: 0 };
  const mm = res.metrics;
  row.runs++; row.failed += bad.length > 0 ? 1 : 0; row.data += mm.dataPackets; row.repairs += mm.repairPackets; row.lost += mm.dataLost; row.lostPackets += mm.dataLostPackets;
  row.naked += mm.nakedPackets; row.ms += ms; row.socketDrops += mm.socketDrops; row.bottleneckDrops += mm.bottleneckDrops; row.reordered += mm.reordered;
  rows.set(family, row);
  if (bad.length > 0) failures.push(`seed ${seed} [${family}]: ${bad.join('; ')}`);
}
const f = (x: number): string => x.toFixed(3);
console.log('family               runs fail  data    repairs lost    rep/data rep/lost rep/lpkt spur/data socketDrops bottleneckDrops reordered ms');
for (const fam of FAMILIES) {
  const r = rows.get(fam); if (!r) continue;
  console.log(`${fam.padEnd(20)} ${String(r.runs).padStart(4)} ${String(r.failed).padStart(4)} ${String(r.data).padStart(7)} ${String(r.repairs).padStart(7)} ${String(r.lost).padStart(7)} ${f(r.repairs / Math.max(1, r.data)).padStart(8)} ${f(r.repairs / Math.max(1, r.lost)).padStart(8)} ${f(r.repairs / Math.max(1, r.lostPackets)).padStart(8)} ${f(Math.max(0, r.repairs - r.lost) / Math.max(1, r.data)).padStart(9)} ${String(r.socketDrops).padStart(11)} ${String(r.bottleneckDrops).padStart(15)} ${String(r.reordered).padStart(9)} ${r.ms.toFixed(0)}`);
}
for (const x of failures.slice(0, 40)) console.log(x);
console.log(`${failures.length} failing seeds`);
