// The event-loop plumbing shared by sender and receiver: a coalesced "run soon", one timer
// re-armed only when the next deadline moves earlier (a timer per packet is costly), and
// SIGINT/SIGTERM handling (the second signal quits at once).

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

  /** Run the step within `waitMs`, unless something kicks it earlier. */
  arm(waitMs: number): void {
    if (this.stopped) return;
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
