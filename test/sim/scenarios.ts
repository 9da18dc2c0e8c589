// Scenario families drawn from a seed: family = seed modulo the number of families, so a seed
// range covers every family and one seed replays exactly (SEED=N).
import { DATA_OVERHEAD_BYTES, frameBytes } from '../../protocol';
import { CLEAN_LINK, runScenario, type LinkProfile, type Scenario, type SimReceiverSpec } from './simulator';
import { Rng } from './rng';

export const FAMILIES = [
  'clean', 'loss', 'shared-loss', 'control-loss', 'burst', 'reorder', 'duplicate', 'corrupt', 'receiver-crash', 'sender-crash',
  'slow-consumer', 'slow-consumer-drop', 'input-fails', 'sink-fails', 'chaos', 'attacker', 'replay',
  'partition', 'partition-all', 'restart', 'buffer', 'bottleneck', 'forged-data', 'split-brain',
] as const;
export type Family = typeof FAMILIES[number];

/** Idle timeout of every scenario; partitions are drawn well inside or well beyond it. */
export const IDLE_TIMEOUT_MS = 3000;
const SHORT_PARTITION = [0.05, 0.5] as const; // x idle timeout: must end ok
const LONG_PARTITION = [1.3, 2.5] as const;   // x idle timeout: must end timeout/dropped

const between = (rng: Rng, [lo, hi]: readonly [number, number]): number => lo + rng.next() * (hi - lo);

/** One direction of a receiver's path, as the family wants it. */
function link(rng: Rng, family: Family, dir: 'forward' | 'control'): LinkProfile {
  const l: LinkProfile = { ...CLEAN_LINK, delayMs: 0.1 + rng.next() * 5, jitterMs: rng.next() * 0.5 };
  const chaos = family === 'chaos';
  if (family === 'loss' || chaos) l.lossRate = rng.next() * 0.3;
  if (family === 'control-loss' && dir === 'control') {
    l.lossRate = 0.1 + rng.next() * 0.4;
    l.burstEnter = rng.next() * 0.05; l.burstExit = 0.1 + rng.next() * 0.3; l.burstLossRate = 0.5 + rng.next() * 0.5;
  }
  if (family === 'burst' || chaos) { l.burstEnter = 0.01 + rng.next() * 0.03; l.burstExit = 0.1 + rng.next() * 0.3; l.burstLossRate = 0.5 + rng.next() * 0.5; }
  if (family === 'reorder' || chaos) {
    l.reorderRate = 0.02 + rng.next() * 0.28; l.reorderDelayMs = 1 + rng.next() * 19;
    if (rng.chance(0.5)) l.spreadMs = 0.05 + rng.next() * 0.95;
  }
  if (family === 'duplicate' || chaos) l.dupRate = 0.05 + rng.next() * 0.25;
  if (family === 'corrupt' || chaos) l.corruptRate = 0.01 + rng.next() * 0.09;
  if (['receiver-crash', 'sender-crash', 'slow-consumer', 'slow-consumer-drop', 'input-fails', 'sink-fails', 'restart'].includes(family)) {
    l.lossRate = rng.next() * 0.1;
  }
  if (['partition', 'partition-all', 'forged-data'].includes(family)) l.lossRate = rng.next() * 0.03;
  if (family === 'split-brain') l.lossRate = rng.next() * 0.1;
  return l;
}

export function makeScenario(seed: number): Scenario {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const family = FAMILIES[seed % FAMILIES.length];
  const n = family === 'partition' || family === 'shared-loss' ? rng.int(2, 5) : rng.int(1, 5);
  const payloadBytes = rng.pick([256, 512, 1000, 1400, 4000]);
  const receivers: SimReceiverSpec[] = [];
  for (let i = 0; i < n; i++) {
    receivers.push({
      name: `r${i}`, link: link(rng, family, 'forward'), controlLink: link(rng, family, 'control'), consumerBytesPerMs: 1e9, sinkExitCode: 0,
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
    dropAfterMs: 0, idleTimeoutMs: IDLE_TIMEOUT_MS, minReceivers: n, receivers, timeLimitMs: 600_000,
  };
  const victim = receivers[rng.int(0, n - 1)];
  switch (family) {
    case 'receiver-crash': victim.crashAtFraction = rng.next() * 0.9; break;
    case 'sender-crash': sc.senderCrashAtFraction = rng.next() * 0.9; sc.inputBytes = Math.max(sc.inputBytes, 10_000); break;
    case 'slow-consumer': victim.consumerBytesPerMs = 50 + rng.next() * 200; break;
    case 'slow-consumer-drop':
      if (n < 2) receivers.push({ ...receivers[0], name: 'r1', link: { ...receivers[0].link }, controlLink: { ...receivers[0].controlLink } });
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
    case 'partition':
    case 'partition-all': {
      // More than a window is left to send when the partition starts, so the cut receivers are
      // always in the middle of the stream (a receiver that already verified everything may
      // rightly say ok while the sender, cut off from its DONE, reports it silent).
      const long = rng.chance(0.5);
      sc.windowBytes = Math.max(payloadBytes * 4, rng.pick([16_384, 65_536]));
      sc.inputBytes = Math.max(sc.inputBytes, 4 * sc.windowBytes);
      sc.partitions = [{
        nodes: family === 'partition' ? [victim.name] : [],
        atFraction: 0.1 + rng.next() * 0.5,
        durationMs: between(rng, long ? LONG_PARTITION : SHORT_PARTITION) * sc.idleTimeoutMs,
      }];
      break;
    }
    case 'shared-loss':
      // Lost before the fan-out (the sender's uplink, a shared switch): receivers at different
      // distances NAK the same packet at different times, and one repair must serve them all.
      sc.uplinkLoss = { ...CLEAN_LINK, lossRate: rng.next() * 0.1, burstEnter: rng.next() * 0.02, burstExit: 0.2 + rng.next() * 0.3, burstLossRate: 0.5 };
      break;
    case 'restart':
      victim.crashAtFraction = 0.1 + rng.next() * 0.7;
      victim.restartAfterMs = rng.next() * 2 * sc.idleTimeoutMs;
      sc.inputBytes = Math.max(sc.inputBytes, 20_000);
      break;
    case 'buffer': {
      // Each receiver reads its socket more slowly than the sender may send: without flow
      // control the buffer overflows.
      sc.windowBytes = rng.pick([1 << 20, 2 << 20, 4 << 20]);
      sc.inputBytes = rng.int(300_000, 1_000_000);
      const wire = frameBytes(payloadBytes + DATA_OVERHEAD_BYTES);
      for (const r of receivers) {
        const fraction = 0.2 + rng.next() * 0.6;
        r.socket = { capacityBytes: rng.pick([256 << 10, 512 << 10, 1 << 20, 2 << 20]), cpuMsPerPacket: wire / (fraction * sc.maxRateBitsPerSec / 8 / 1000) };
      }
      break;
    }
    case 'bottleneck':
      // A hop slower than the configured rate, with a short drop-tail queue: rate control must
      // find the hop's rate or lose packets all the way.
      sc.windowBytes = rng.pick([512 << 10, 1 << 20, 2 << 20]);
      // The hop runs at 1/8 to 1/2 of the configured rate (within reach of the rate control's
      // floor), and the transfer lasts long enough for several rate adjustments.
      sc.payloadBytes = rng.pick([1000, 1400, 4000]);
      sc.inputBytes = rng.int(400_000, 1_200_000);
      sc.maxRateBitsPerSec = 50e6;
      sc.bottleneck = { rateBytesPerMs: (0.125 + rng.next() * 0.375) * sc.maxRateBitsPerSec / 8 / 1000, queueBytes: rng.pick([32 << 10, 64 << 10, 128 << 10]) };
      break;
    case 'forged-data': {
      sc.inputBytes = Math.max(sc.inputBytes, 20_000);
      const packets = Math.ceil(sc.inputBytes / payloadBytes);
      const k = rng.int(1, 3);
      sc.forgeAtPackets = Array.from({ length: k }, () => rng.int(0, packets - 1));
      sc.forgeVictims = Array.from({ length: k }, () => rng.int(1, n));
      break;
    }
    case 'split-brain':
      // Two senders of one job within a few ms (both primaries' cron at 02:00), with loss, the
      // senders hearing each other or not. The transfer lasts many join retries, so every
      // receiver hears the rival before it could verify: none may deliver either stream.
      sc.maxRateBitsPerSec = 10e6;
      sc.inputBytes = rng.int(1_000_000, 2_000_000);
      sc.rival = { startAtMs: rng.next() * 20, ears: rng.chance(0.5), earLink: { ...CLEAN_LINK, delayMs: 0.1 + rng.next() * 5, lossRate: rng.next() * 0.1 } };
      break;
    default:
  }
  return sc;
}
