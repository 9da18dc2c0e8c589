// A job's on-success / on-failure command (config keys), run by the job runner after a run:
// `/bin/sh -c COMMAND` in its own process group with the run's facts in DBCAST_* variables,
// killed (the whole group) after hook-timeout-sec. Its outcome is only logged: a hook that
// fails or hangs never changes the run's result.
import { spawn } from 'child_process';
import { OutputTail } from '../../runtime/output-tail';
import { killGroup } from '../../runtime/process-group';

/** After SIGTERM at the timeout, this long before SIGKILL. */
export const HOOK_KILL_GRACE_MS = 5000;

export interface HookOutcome {
  /** The shell's exit status; null when it was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  /** The last lines it wrote (stdout and stderr), for the log. */
  output: string;
  /** The shell could not be started. */
  error: string | null;
}

export function runHook(command: string, env: Record<string, string>, timeoutMs: number): Promise<HookOutcome> {
  const t0 = performance.now();
  const tail = new OutputTail();
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let timedOut = false;
    let kill: NodeJS.Timeout | null = null;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGTERM');
      kill = setTimeout(() => killGroup(child, 'SIGKILL'), HOOK_KILL_GRACE_MS);
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => tail.push(d));
    child.stderr?.on('data', (d: Buffer) => tail.push(d));
    const done = (exitCode: number | null, signal: NodeJS.Signals | null, error: string | null): void => {
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      // Something the hook left in the background may hold the pipes: do not wait for it.
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({ exitCode, signal, timedOut, durationMs: performance.now() - t0, output: tail.lines(), error });
    };
    child.once('error', (err) => done(null, null, err.message));
    child.once('exit', (code, signal) => done(code, signal, null));
  });
}
