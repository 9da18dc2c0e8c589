// When a scheduled job runs: the cron expression's wall-clock times in the job's time zone,
// with a rule for the two days a year the clock jumps (README "Daemon and schedules"):
// - spring forward: a time that does not exist that day (02:30 in Europe/Berlin on the last
//   Sunday of March) runs at the first instant after the gap (03:00 CEST). Every time in the
//   gap, and a time of the schedule at the gap's end, are that one run.
// - fall back: a time that exists twice (02:30 on the last Sunday of October) runs once, at
//   its first occurrence.
// node-cron parses and matches the expression; its own walk skips the gap, so the walk over
// wall-clock times is here. The time functions take "now" as an argument.
import cron, { type ScheduledTask } from 'node-cron';
import type { JobConfig } from '../config';

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;
/** Days the walk looks ahead for a matching date (29 February on a Monday recurs within 28 years). */
const MAX_SEARCH_DAYS = 366 * 30;
/** Passes of the walk: the first match, then at most one step past a repeated hour. */
const MAX_WALK_STEPS = 4;
/** setTimeout's longest delay (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A timer that fires this much before its run (the wall clock was set back) waits again. */
const EARLY_TOLERANCE_MS = 1000;

// ---- wall-clock arithmetic: a wall time is encoded as the UTC milliseconds of its fields ----

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time in `tz` at an instant. */
export function wallAt(instantMs: number, tz: string): number {
  const whole = Math.floor(instantMs / SECOND_MS) * SECOND_MS;
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(whole))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) + (instantMs - whole);
}

const offsetAt = (instantMs: number, tz: string): number => wallAt(instantMs, tz) - instantMs;

/** The instant in (lo, hi] where the offset stops being `fromOffsetMs`, to the millisecond. */
function transitionIn(loMs: number, hiMs: number, fromOffsetMs: number, tz: string): number {
  let lo = loMs; let hi = hiMs;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, tz) === fromOffsetMs) lo = mid; else hi = mid;
  }
  return hi;
}

/** The zone's offsets a day before and a day after a wall time: they differ around a transition. */
function offsetsAround(wallMs: number, tz: string): { before: number; after: number } {
  return { before: offsetAt(wallMs - DAY_MS, tz), after: offsetAt(wallMs + DAY_MS, tz) };
}

/**
 * The instant a wall-clock time runs at: the instant itself; the first of two in a repeated
 * hour; the end of the gap for a time the clock skipped.
 */
export function runInstant(wallMs: number, tz: string): number {
  const { before, after } = offsetsAround(wallMs, tz);
  const real = [wallMs - before, wallMs - after].filter((c) => wallAt(c, tz) === wallMs);
  if (real.length > 0) return Math.min(...real);
  if (before === after) return wallMs - before; // no transition: cannot happen, but never loop
  // In the gap: the transition lies between the two readings.
  return transitionIn(wallMs - after, wallMs - before, before, tz);
}

/** The wall time at which a repeated hour containing `wallMs` ends (the clock passes it once more). */
function repeatedHourEnd(wallMs: number, tz: string): number {
  const { before, after } = offsetsAround(wallMs, tz);
  if (before <= after) return wallMs;
  return transitionIn(wallMs - before, wallMs - after, before, tz) + before;
}

// ---- the expression, matched by node-cron against wall-clock fields ----

interface Matcher { task: ScheduledTask; seconds: number[]; minutes: number[]; hours: number[] }
/** Matchers live as long as the process; a config has at most MAX_JOBS schedules, reloads a few more. */
const MAX_MATCHERS = 256;
const matchers = new Map<string, Matcher>();

function matcher(expression: string): Matcher {
  let m = matchers.get(expression);
  if (!m) {
    if (matchers.size >= MAX_MATCHERS) {
      for (const old of matchers.values()) void old.task.destroy();
      matchers.clear();
    }
    const f = cron.parse(expression);
    const asc = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    // Matched in UTC on wall-clock fields: the zone's own offsets are applied by runInstant.
    m = { task: cron.createTask(expression, () => undefined, { timezone: 'UTC' }), seconds: asc(f.second), minutes: asc(f.minute), hours: asc(f.hour) };
    matchers.set(expression, m);
  }
  return m;
}

/** The first wall-clock time after `wallMs` (whole seconds) the expression matches, or null. */
export function nextWallMatch(expression: string, wallMs: number): number | null {
  const m = matcher(expression);
  const minMs = Math.floor(wallMs / SECOND_MS) * SECOND_MS + SECOND_MS;
  const first = new Date(minMs);
  let dayMs = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
  const firstTimeMs = ((m.hours[0] * 60 + m.minutes[0]) * 60 + m.seconds[0]) * SECOND_MS;
  for (let i = 0; i < MAX_SEARCH_DAYS; i++, dayMs += DAY_MS) {
    if (!m.task.match(new Date(dayMs + firstTimeMs))) continue; // date, month and weekday fields
    for (const h of m.hours) {
      if (dayMs + (h + 1) * 3_600_000 <= minMs) continue;
      for (const min of m.minutes) {
        for (const s of m.seconds) {
          const t = dayMs + ((h * 60 + min) * 60 + s) * SECOND_MS;
          if (t >= minMs) return t;
        }
      }
    }
  }
  return null;
}

/** The system's zone when a job names none (as node-cron does). */
export const localZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The first run strictly after `afterMs` under the DST rule above, or null when there is none. */
export function nextRunAfter(expression: string, timezone: string | undefined, afterMs: number): number | null {
  const tz = timezone ?? localZone();
  let wall = wallAt(afterMs, tz);
  for (let step = 0; step < MAX_WALK_STEPS; step++) {
    const next = nextWallMatch(expression, wall);
    if (next === null) return null;
    const at = runInstant(next, tz);
    if (at > afterMs) return at;
    // A repeated hour whose first pass is behind us: its times have all run; go on from its end.
    wall = Math.max(next, repeatedHourEnd(next, tz) - SECOND_MS);
  }
  return null;
}

/** The next `count` runs after `afterMs`. */
export function nextRuns(expression: string, timezone: string | undefined, afterMs: number, count: number): number[] {
  const out: number[] = [];
  for (let from = afterMs; out.length < count;) {
    const t = nextRunAfter(expression, timezone, from);
    if (t === null) break;
    out.push(t);
    from = t;
  }
  return out;
}

/** A job's next run (a scheduled receiver's: the sender's time, its window opens before), or null. */
export function nextRunAt(job: Pick<JobConfig, 'schedule' | 'timezone'>, nowMs = Date.now()): Date | null {
  if (!job.schedule) return null;
  const t = nextRunAfter(job.schedule, job.timezone, nowMs);
  return t === null ? null : new Date(t);
}

// ---- the timer that runs a job at those times ----

export interface Timers {
  now(): number;
  set(fn: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}
export const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  set: (fn, delayMs) => setTimeout(fn, delayMs),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What the job runner asks of a schedule (the part of node-cron's task it used). */
export interface JobSchedule {
  getNextRun(): Date | null;
  getNextRuns(count: number): Date[];
  destroy(): void;
}

/** A schedule without a timer: a scheduled receiver arms its own windows from its run times. */
export function createSchedule(expression: string, timezone: string | undefined, timers: Timers = REAL_TIMERS): JobSchedule {
  return {
    getNextRun: () => { const t = nextRunAfter(expression, timezone, timers.now()); return t === null ? null : new Date(t); },
    getNextRuns: (count) => nextRuns(expression, timezone, timers.now(), count).map((t) => new Date(t)),
    destroy: () => undefined,
  };
}

/**
 * Calls `onRun` at each run time. A timer that fires early (the clock was set back) waits
 * again; one that fires late (the host slept through runs) runs once, then goes on from now.
 */
export function scheduleRuns(expression: string, timezone: string | undefined, onRun: () => void, timers: Timers = REAL_TIMERS): JobSchedule {
  let handle: unknown = null;
  let dueMs: number | null = null;
  let destroyed = false;
  const arm = (fromMs: number): void => {
    dueMs = nextRunAfter(expression, timezone, fromMs);
    if (dueMs === null || destroyed) return;
    wait();
  };
  const wait = (): void => {
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, (dueMs as number) - timers.now()));
    handle = timers.set(fire, delay);
  };
  const fire = (): void => {
    handle = null;
    if (destroyed || dueMs === null) return;
    if (timers.now() < dueMs - EARLY_TOLERANCE_MS) { wait(); return; }
    const ran = dueMs;
    onRun();
    arm(Math.max(ran, timers.now()));
  };
  arm(timers.now());
  return {
    getNextRun: () => (dueMs === null ? null : new Date(dueMs)),
    getNextRuns: (count) => nextRuns(expression, timezone, timers.now(), count).map((t) => new Date(t)),
    destroy: () => { destroyed = true; if (handle !== null) timers.clear(handle); handle = null; },
  };
}
