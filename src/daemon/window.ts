// When a scheduled receiver listens. Hosts' clocks differ a little even with NTP: a receiver
// opens its window `openBeforeMs` before the scheduled time and keeps it open `windowMs`
// after, so a sender whose clock is off by less than that still finds it. Pure: the
// scheduled times and "now" are passed in.

export interface ListenWindow { scheduledMs: number; openAtMs: number; closeAtMs: number }

/** The first window that has not closed yet, from the schedule's next run times (ascending). */
export function nextWindow(nextRunsMs: number[], nowMs: number, openBeforeMs: number, windowMs: number): ListenWindow | null {
  for (const scheduledMs of nextRunsMs) {
    const w = { scheduledMs, openAtMs: scheduledMs - openBeforeMs, closeAtMs: scheduledMs + windowMs };
    if (w.closeAtMs > nowMs) return w;
  }
  return null;
}

/**
 * Does a run happen? The sender starts announcing at its own scheduled time and gives up after
 * `senderMaxWaitMs`; the receiver listens during its window. Clock skews are relative to true
 * time (positive = the host's clock is ahead, so it acts early). The reason says which side
 * missed the other, for the run record.
 */
export function windowsMeet(scheduledMs: number, senderSkewMs: number, senderMaxWaitMs: number,
  receiverSkewMs: number, openBeforeMs: number, windowMs: number): { ok: true } | { ok: false; reason: string } {
  const senderFrom = scheduledMs - senderSkewMs;
  const senderTo = senderFrom + senderMaxWaitMs;
  const rxFrom = scheduledMs - openBeforeMs - receiverSkewMs;
  const rxTo = scheduledMs + windowMs - receiverSkewMs;
  if (rxTo < senderFrom) return { ok: false, reason: `the receiver stopped listening ${((senderFrom - rxTo) / 1000).toFixed(1)} s before the sender started (clock skew over window-sec?)` };
  if (senderTo < rxFrom) return { ok: false, reason: `the sender gave up ${((rxFrom - senderTo) / 1000).toFixed(1)} s before the receiver started listening (clock skew over open-before-sec + max-wait-sec?)` };
  return { ok: true };
}
