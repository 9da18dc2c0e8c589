// Simulation tier: the pure sessions over a seeded, simulated network (see test/sim/).
// Replay one seed: SEED=123 npx tap test/simulation.test.ts ; more seeds: SIM_SEEDS=5000.
import t from 'tap';
import { runScenario } from './sim/simulator';
import { FAMILIES, checkResult, makeScenario } from './sim/scenarios';

const firstSeed = Number(process.env.SEED ?? 1);
const count = process.env.SEED ? 1 : Number(process.env.SIM_SEEDS ?? 390);

t.test(`${count} seeded runs across ${FAMILIES.length} families`, async (t) => {
  const failures: string[] = [];
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const sc = makeScenario(seed);
    const res = runScenario(sc);
    const bad = checkResult(res);
    if (bad.length > 0) failures.push(`seed ${seed} [${sc.family}, ${sc.receivers.length} rx, ${sc.inputBytes} B]: ${bad.join('; ')}  (replay: SEED=${seed} npx tap test/simulation.test.ts)`);
  }
  t.same(failures, [], 'every seed delivers byte-exact output or fails cleanly and truthfully');
});

t.test('all families are exercised', async (t) => {
  const seen = new Set<string>();
  for (let seed = firstSeed; seed < firstSeed + Math.max(count, FAMILIES.length); seed++) seen.add(makeScenario(seed).family);
  t.equal(seen.size, FAMILIES.length);
});
