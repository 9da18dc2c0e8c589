// Running the operator's stop and start commands (sh -c). Done when the command exits, not
// when its output closes: a start command may leave a daemon holding our pipes.
import { spawn } from 'child_process';
import { OutputTail } from '../../../runtime/output-tail';
import { killGroup } from '../../../runtime/process-group';

export interface ShellResult { code: number | null; signal: NodeJS.Signals | null; output: string; timedOut: boolean }

export function runShell(command: string, timeoutMs: number): Promise<ShellResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail = new OutputTail(2048);
    child.stdout.on('data', (d: Buffer) => tail.push(d));
    child.stderr.on('data', (d: Buffer) => tail.push(d));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; killGroup(child, 'SIGKILL'); }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); resolve({ code: null, signal: null, output: err.message, timedOut }); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // What it printed up to now; a daemon it left behind keeps the pipes open, so let go of them.
      setImmediate(() => {
        child.stdout.destroy(); child.stderr.destroy();
        resolve({ code, signal, output: tail.lines(6), timedOut });
      });
    });
  });
}

export function describeShell(r: ShellResult, timeoutMs: number): string {
  const how = r.timedOut ? `did not finish within ${timeoutMs / 1000} s` : r.signal ? `was killed by ${r.signal}` : r.code === null ? 'could not run' : `exited with status ${r.code}`;
  return r.output ? `${how}: ${r.output.replace(/\s*\n\s*/g, ' | ')}` : how;
}
