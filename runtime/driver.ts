// The event-loop plumbing shared by sender and receiver: a coalesced "run soon", one timer
// re-armed only when the next deadline moves earlier (a timer per packet is costly), and
// SIGINT/SIGTERM handling (the second signal quits at once).

/** setTimeout fires at once for anything longer (it takes a 32-bit signed delay). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Driver {
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private stopped = false;

  constructor(private readonly step: () => void, private readonly clock: () => number) {}

  /** Run the step on the next turn of the event loop (coalesced). */
  kick = (): void => {
    if (!this.immediate && !this.stopped) this.immediate = setImmediate(this.fire);
  };

  /** Run the step within `waitMs`, unless something kicks it earlier. Infinity: nothing is due
   *  (an input will kick). Nothing caps the wait: the session's timer table holds every deadline. */
  arm(waitMs: number): void {
    if (this.stopped || !(waitMs < Infinity)) return;
    waitMs = Math.min(waitMs, MAX_TIMER_MS);
    const at = this.clock() + waitMs;
    if (this.timer && this.timerAt <= at + 0.5) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.step(); }, waitMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
  }

  private readonly fire = (): void => { this.immediate = null; this.step(); };
}

/** Call `onFirst` on SIGINT/SIGTERM; exit with `exitCode` on a second signal. Returns the undo. */
export function onInterrupt(onFirst: (sig: NodeJS.Signals) => void, exitCode: number): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals): void => {
    if (++count > 1) process.exit(exitCode);
    onFirst(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); };
}
