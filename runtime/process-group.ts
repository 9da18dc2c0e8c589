import type { ChildProcess } from 'child_process';

/** Signal a child started with `detached: true` and everything in its process group. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try { process.kill(-child.pid, signal); } catch { child.kill(signal); }
}
