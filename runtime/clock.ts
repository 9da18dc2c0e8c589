import { performance } from 'perf_hooks';

/**
 * Milliseconds since the epoch as of process start, advanced by the monotonic clock: timers
 * never jump with NTP steps, and timestamps on the wire still compare across hosts.
 */
export const nowMs = (): number => performance.timeOrigin + performance.now();
