// Simulation tier: the pure sessions over a seeded, simulated network (see test/sim/README.md).
// Replay one seed: SEED=123 npx tap test/simulation.test.ts ; more seeds: SIM_SEEDS=5000 ;
// one family's seeds only: SIM_FAMILY=buffer [SIM_SEEDS=runs] (families: test/sim/scenarios.ts).
import t from 'tap';
import { runScenario, type SimResult } from './sim/simulator';
import { FAMILIES, makeScenario, type Family } from './sim/scenarios';
import {
  BOTTLENECK_REPAIRS_PER_DATA_PACKET, REPAIRS_PER_LOST_PACKET, SPURIOUS_REPAIRS_PER_DATA_PACKET, checkCost, checkResult,
} from './sim/invariants';
import { FAULT_EVIDENCE } from './sim/faults';

const onlyFamily = process.env.SIM_FAMILY as Family | undefined;
if (onlyFamily !== undefined && !FAMILIES.includes(onlyFamily)) throw new Error(`SIM_FAMILY must be one of ${FAMILIES.join(', ')}`);
const RUNS_PER_FAMILY = 20;
/** A family's seeds are those it is drawn by (the seed modulo the number of families), from 1 up:
 *  the same runs the whole test makes of it. */
const familySeed = (f: Family, k: number): number => (FAMILIES.indexOf(f) || FAMILIES.length) + k * FAMILIES.length;
const seeds: number[] = process.env.SEED ? [Number(process.env.SEED)]
  : onlyFamily ? Array.from({ length: Number(process.env.SIM_SEEDS ?? RUNS_PER_FAMILY) }, (_, k) => familySeed(onlyFamily, k))
    : Array.from({ length: Number(process.env.SIM_SEEDS ?? RUNS_PER_FAMILY * FAMILIES.length) }, (_, k) => k + 1);
/** Family figures below this many runs say too little to hold a bound against. */
const MIN_RUNS_FOR_AGGREGATE = 10;

interface Run { seed: number; family: Family; outcome: string[]; cost: string[]; res: SimResult }
const runs: Run[] = [];
for (const seed of seeds) {
  const family = FAMILIES[seed % FAMILIES.length];
  const res = runScenario(makeScenario(seed));
  // Keep what the checks below read; the scenario's recorded replay is large.
  if (res.scenario.replay) res.scenario = { ...res.scenario, replay: { packets: [], everyMs: res.scenario.replay.everyMs } };
  runs.push({ seed, family, outcome: checkResult(res), cost: checkCost(res), res });
}
const byFamily = (f: Family): Run[] => runs.filter((r) => r.family === f);
const where = (r: Run): string => `seed ${r.seed} [${r.family}, ${r.res.scenario.receivers.length} rx, ${r.res.scenario.inputBytes} B]`;
const replay = (r: Run): string => `(replay: SEED=${r.seed} npx tap test/simulation.test.ts)`;

interface Totals { data: number; repairs: number; lost: number; lostPackets: number }
const totals = (rs: Run[]): Totals => rs.reduce((a, r) => ({
  data: a.data + r.res.metrics.dataPackets, repairs: a.repairs + r.res.metrics.repairPackets, lost: a.lost + r.res.metrics.dataLost,
  lostPackets: a.lostPackets + r.res.metrics.dataLostPackets,
}), { data: 0, repairs: 0, lost: 0, lostPackets: 0 });
const ratio = (a: number, b: number): string => (a / Math.max(1, b)).toFixed(3);

t.test(`${runs.length} seeded runs: outcomes`, async (t) => {
  const failures = runs.filter((r) => r.outcome.length > 0).map((r) => `${where(r)}: ${r.outcome.join('; ')}  ${replay(r)}`);
  t.same(failures, [], 'every seed delivers byte-exact output or fails cleanly and truthfully');
});

t.test(`${runs.length} seeded runs: cost`, async (t) => {
  const failures = runs.filter((r) => r.cost.length > 0).map((r) => `${where(r)}: ${r.cost.join('; ')}  ${replay(r)}`);
  t.same(failures, [], 'every run repairs no more than was asked and lost, holds no more than its windows, fires deadlines on time');
});

t.test('repair figures per family', async (t) => {
  for (const f of FAMILIES) {
    const rs = byFamily(f);
    if (rs.length === 0) continue;
    const x = totals(rs);
    t.comment(`${f}: ${rs.length} runs, ${x.data} data packets, ${x.repairs} repairs, ${x.lost} copies of ${x.lostPackets} packets lost; repairs per data packet ${ratio(x.repairs, x.data)}, per lost copy ${ratio(x.repairs, x.lost)}, per lost packet ${ratio(x.repairs, x.lostPackets)}, beyond the copies lost per data packet ${ratio(Math.max(0, x.repairs - x.lost), x.data)}`);
  }
});

/** Bounds over a family need enough of its runs: SEED or SIM_FAMILY may leave too few. */
const tooFew = (...fs: Family[]): { skip: string | false } => {
  const n = Math.max(...fs.map((f) => byFamily(f).length));
  return { skip: n < MIN_RUNS_FOR_AGGREGATE ? `${n} runs of ${fs.length > 1 ? 'any such family' : fs[0]} (fewer than ${MIN_RUNS_FOR_AGGREGATE}: SEED or SIM_FAMILY narrows the run)` : false };
};
// Reordering without loss has its own bound below.
const LOSSY = FAMILIES.filter((f) => f !== 'reorder');

t.test(`repairs per lost packet stay within ${REPAIRS_PER_LOST_PACKET} in every family that loses packets`, tooFew(...LOSSY), async (t) => {
  for (const f of LOSSY) {
    const rs = byFamily(f);
    if (rs.length < MIN_RUNS_FOR_AGGREGATE) continue;
    const x = totals(rs);
    if (x.lost === 0) continue;
    t.ok(x.repairs <= REPAIRS_PER_LOST_PACKET * x.lost, `${f}: ${x.repairs} repairs for ${x.lost} lost packets (${ratio(x.repairs, x.lost)} per lost packet)`);
  }
});

// Each lost copy needs one repair at most, so repairs beyond the copies lost are spurious. The
// reorder family, where nothing is lost, is the target of issue 13.
t.test(`spurious repairs stay within ${SPURIOUS_REPAIRS_PER_DATA_PACKET * 100} % of data packets in every family, reordering without loss included`, tooFew(...FAMILIES), async (t) => {
  for (const f of FAMILIES) {
    const rs = byFamily(f);
    if (rs.length < MIN_RUNS_FOR_AGGREGATE) continue;
    const x = totals(rs);
    // In the reorder family only DATA that overtook a receiver's WELCOME is lost.
    const spurious = Math.max(0, x.repairs - x.lost);
    t.ok(spurious <= SPURIOUS_REPAIRS_PER_DATA_PACKET * x.data, `${f}: ${spurious} repairs beyond the ${x.lost} copies lost, for ${x.data} data packets (${(100 * spurious / Math.max(1, x.data)).toFixed(1)} %)`);
  }
});

t.test(`rate control through a slower hop: at most ${BOTTLENECK_REPAIRS_PER_DATA_PACKET} repairs per data packet`, tooFew('bottleneck'), async (t) => {
  const x = totals(byFamily('bottleneck'));
  t.ok(x.repairs <= BOTTLENECK_REPAIRS_PER_DATA_PACKET * x.data, `${x.repairs} repairs for ${x.data} data packets (${ratio(x.repairs, x.data)} per data packet)`);
});

t.test('each family met its fault', async (t) => {
  for (const f of FAMILIES) {
    const rs = byFamily(f).filter((r) => r.res.scenario.inputBytes > 0);
    if (rs.length === 0) continue;
    for (const ev of FAULT_EVIDENCE[f]) {
      const missed = rs.filter((r) => !ev.holds(r.res)).map((r) => r.seed);
      if (ev.share === 1) t.same(missed, [], `${f}: ${ev.what} in every run`);
      else t.ok(rs.length - missed.length >= Math.ceil(ev.share * rs.length), `${f}: ${ev.what} in ${rs.length - missed.length} of ${rs.length} runs`);
    }
  }
  for (const f of ['partition', 'partition-all'] as const) {
    const rs = byFamily(f);
    if (rs.length < MIN_RUNS_FOR_AGGREGATE) continue;
    const lengths = rs.flatMap((r) => r.res.metrics.partitions.map((p) => p.healMs - p.startMs > r.res.scenario.idleTimeoutMs));
    t.ok(lengths.includes(true) && lengths.includes(false), `${f}: partitions both shorter and longer than the idle timeout`);
  }
});

t.test('a seed replays exactly', async (t) => {
  const fingerprint = (res: SimResult): string => JSON.stringify({ m: res.metrics, rx: res.receivers, end: res.endMs, events: res.events, report: res.report });
  const varied = runs.filter((r) => ['chaos', 'partition-all', 'restart', 'buffer'].includes(r.family)).slice(0, 3);
  for (const r of varied.length > 0 ? varied : runs.slice(0, 3)) {
    t.equal(fingerprint(runScenario(makeScenario(r.seed))), fingerprint(r.res), `seed ${r.seed} [${r.family}] runs the same twice`);
  }
});
