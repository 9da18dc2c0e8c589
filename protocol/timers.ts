// One table of named deadlines per session. Inputs set and cancel them; handleTimeout(nowMs)
// takes the ones that are due; the driver sleeps exactly until next(). A deadline that is not
// in this table never fires, so a forgotten one shows up as a session that never moves on
// (the simulator has no wake-up cap that would hide it).

export class TimerTable<Name extends string> {
  private readonly atMs = new Map<Name, number>();

  /** Arm (or move) a deadline. */
  set(name: Name, atMs: number): void { this.atMs.set(name, atMs); }

  /** Arm a deadline unless it is already armed at or before `atMs`. */
  setEarliest(name: Name, atMs: number): void {
    const cur = this.atMs.get(name);
    if (cur === undefined || atMs < cur) this.atMs.set(name, atMs);
  }

  cancel(name: Name): void { this.atMs.delete(name); }

  get(name: Name): number | undefined { return this.atMs.get(name); }

  isArmed(name: Name): boolean { return this.atMs.has(name); }

  /** The earliest armed deadline, or Infinity. */
  next(): number {
    let min = Infinity;
    for (const t of this.atMs.values()) if (t < min) min = t;
    return min;
  }

  /** Disarm and return every deadline due at `nowMs`, earliest first. */
  takeDue(nowMs: number): Name[] {
    const due: [Name, number][] = [];
    for (const [name, t] of this.atMs) if (t <= nowMs) due.push([name, t]);
    due.sort((a, b) => a[1] - b[1]);
    for (const [name] of due) this.atMs.delete(name);
    return due.map(([name]) => name);
  }

  /** The armed deadlines, for tests and invariants. */
  entries(): [Name, number][] { return [...this.atMs]; }
}
