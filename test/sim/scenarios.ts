// Scenario families drawn from a seed, and the invariants every run must satisfy.
import { CLEAN_LINK, runScenario, type LinkProfile, type Scenario, type SimReceiverSpec, type SimResult } from './simulator';
import { Rng } from './rng';

export const FAMILIES = [
  'clean', 'loss', 'burst', 'reorder-dup', 'corrupt', 'receiver-crash', 'sender-crash',
  'slow-consumer', 'slow-consumer-drop', 'input-fails', 'sink-fails', 'chaos', 'attacker', 'replay',
] as const;
export type Family = typeof FAMILIES[number];

function link(rng: Rng, family: Family): LinkProfile {
  const l: LinkProfile = { ...CLEAN_LINK, delayMs: 0.1 + rng.next() * 5, jitterMs: rng.next() * 0.5 };
  const chaos = family === 'chaos';
  if (family === 'loss' || chaos) l.lossRate = rng.next() * 0.3;
  if (family === 'burst' || chaos) { l.burstEnter = 0.01 + rng.next() * 0.03; l.burstExit = 0.1 + rng.next() * 0.3; l.burstLossRate = 0.5 + rng.next() * 0.5; }
  if (family === 'reorder-dup' || chaos) { l.reorderRate = rng.next() * 0.3; l.reorderDelayMs = rng.next() * 20; l.dupRate = rng.next() * 0.2; }
  if (family === 'corrupt' || chaos) l.corruptRate = rng.next() * 0.1;
  if (['receiver-crash', 'sender-crash', 'slow-consumer', 'slow-consumer-drop', 'input-fails', 'sink-fails'].includes(family)) {
    l.lossRate = rng.next() * 0.1;
  }
  return l;
}

export function makeScenario(seed: number): Scenario {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const family = FAMILIES[seed % FAMILIES.length];
  const n = rng.int(1, 5);
  const payloadBytes = rng.pick([256, 512, 1000, 1400, 4000]);
  const receivers: SimReceiverSpec[] = [];
  for (let i = 0; i < n; i++) {
    receivers.push({
      name: `r${i}`, link: link(rng, family), consumerBytesPerMs: 1e9, sinkExitCode: 0,
      sinkDelayMs: rng.next() * 50, clockSkewMs: 1_000_000 + rng.pick([0, 2000, -2000, 10_000, -10_000]),
    });
  }
  // Zero-length and sub-packet streams are part of the space.
  const inputBytes = rng.chance(0.03) ? rng.int(0, 3) : rng.int(1, 300_000);
  const sc: Scenario = {
    seed, family, inputBytes, payloadBytes,
    inputChunkBytes: rng.pick([100, 4096, 65536]),
    windowBytes: Math.max(payloadBytes * 4, rng.pick([16_384, 65_536, 262_144])),
    maxRateBitsPerSec: rng.pick([50e6, 200e6, 1e9]),
    dropAfterMs: 0, idleTimeoutMs: 3000, minReceivers: n, receivers, timeLimitMs: 600_000,
  };
  const victim = receivers[rng.int(0, n - 1)];
  switch (family) {
    case 'receiver-crash': victim.crashAtFraction = rng.next() * 0.9; break;
    case 'sender-crash': sc.senderCrashAtFraction = rng.next() * 0.9; sc.inputBytes = Math.max(sc.inputBytes, 10_000); break;
    case 'slow-consumer': victim.consumerBytesPerMs = 50 + rng.next() * 200; break;
    case 'slow-consumer-drop':
      if (n < 2) receivers.push({ ...receivers[0], name: 'r1', link: { ...receivers[0].link } });
      receivers[receivers.length - 1].consumerBytesPerMs = 20 + rng.next() * 50;
      sc.minReceivers = receivers.length;
      sc.dropAfterMs = 200 + rng.next() * 500;
      sc.inputBytes = Math.max(sc.inputBytes, 200_000);
      break;
    case 'input-fails': sc.inputFailAtFraction = rng.next() * 0.9; sc.inputBytes = Math.max(sc.inputBytes, 10_000); break;
    case 'sink-fails': victim.sinkExitCode = rng.int(1, 3); break;
    case 'attacker': sc.attackEveryMs = 1 + rng.next() * 10; break;
    case 'replay': {
      // An earlier night's complete session (other bytes, same job), recorded off the wire and
      // played back from the pinned sender's own address while tonight's session runs.
      const night = makeScenario((Math.floor(seed / FAMILIES.length) + 1_000_000) * FAMILIES.length); // a 'clean' seed far away
      const recording = runScenario({ ...night, record: true });
      sc.replay = { packets: recording.senderPackets ?? [], everyMs: 0.05 + rng.next() * 2 };
      break;
    }
    default:
  }
  return sc;
}

/** Every violated invariant, as a sentence. Empty = the run is correct. */
export function checkResult(res: SimResult): string[] {
  const bad: string[] = [];
  const sc = res.scenario;
  const reportByName = new Map(res.report.receivers.map((r) => [r.name, r]));
  if (!res.senderCrashed && !res.senderFinished) bad.push(`sender did not finish (state at ${res.endMs} ms)`);
  for (const r of res.receivers) {
    const spec = sc.receivers.find((s) => s.name === r.name);
    if (r.crashed) continue;
    if (!r.finished) { bad.push(`${r.name} did not finish`); continue; }
    const code = r.outcome?.code;
    // Safety: a receiver reports ok only with the exact input.
    if (code === 'ok' && (r.outputSha256 !== res.inputSha256 || r.bytes !== sc.inputBytes)) {
      bad.push(`${r.name} says ok but its output differs from the input`);
    }
    if (r.sinkFinalized && r.outputSha256 !== res.inputSha256) bad.push(`${r.name} finalized a sink with wrong bytes`);
    const rep = reportByName.get(r.name);
    // Truth: the sender's report agrees with what the receiver concluded.
    if (!res.senderCrashed && rep) {
      if (code === 'ok' && rep.outcome !== 'ok' && rep.code !== 'session-aborted') bad.push(`${r.name} ok but sender reports ${rep.outcome}/${rep.code}`);
      if (code !== 'ok' && rep.outcome === 'ok') bad.push(`${r.name} failed (${code}) but sender reports ok`);
    }
    // Liveness: what each family must achieve.
    const expectOk = ['clean', 'loss', 'burst', 'reorder-dup', 'corrupt', 'chaos', 'receiver-crash', 'slow-consumer', 'attacker', 'replay'].includes(sc.family)
      || (sc.family === 'sink-fails' && spec?.sinkExitCode === 0);
    if (expectOk && code !== 'ok') bad.push(`${r.name} ended ${code} (${r.outcome?.message}); expected ok`);
    if (sc.family === 'sink-fails' && spec?.sinkExitCode !== 0 && code !== 'sink-failed') bad.push(`${r.name} ended ${code}; expected sink-failed`);
    if (sc.family === 'sender-crash' && code !== 'timeout' && code !== 'ok') bad.push(`${r.name} ended ${code}; expected timeout`);
    if (sc.family === 'input-fails' && code !== 'aborted') bad.push(`${r.name} ended ${code}; expected aborted`);
    if (sc.family === 'slow-consumer-drop' && code !== 'ok' && code !== 'dropped') bad.push(`${r.name} ended ${code}; expected ok or dropped`);
  }
  if (!res.senderCrashed) {
    const crashed = res.receivers.filter((r) => r.crashed).map((r) => r.name);
    for (const name of crashed) {
      const rep = reportByName.get(name);
      if (rep && rep.outcome === 'ok') bad.push(`crashed ${name} reported ok`);
    }
    const expectAborted = sc.family === 'input-fails';
    if (expectAborted && res.report.outcome !== 'aborted') bad.push('sender should report aborted');
    if (['clean', 'loss', 'burst', 'reorder-dup', 'corrupt', 'chaos', 'attacker', 'replay'].includes(sc.family) && res.report.outcome !== 'completed') {
      bad.push(`sender outcome ${res.report.outcome} (${res.report.abortMessage})`);
    }
  }
  return bad;
}
