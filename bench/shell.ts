// A command run under /bin/sh, as an operator would type it, with its stderr kept (the tail)
// and a way to wait for what it says rather than for a fixed time. Shared by the benches.
import { spawn } from 'child_process';

export interface Proc { done: Promise<{ code: number | null; stderr: string }>; said(re: RegExp): Promise<void> }

const STDERR_KEEP_BYTES = 1 << 20;

export function sh(cmd: string): Proc {
  const c = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters: (() => void)[] = [];
  c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.slice(-(STDERR_KEEP_BYTES / 2)); waiters.forEach((w) => w()); });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => c.on('close', (code) => resolve({ code, stderr: stderr.slice(-3000) })));
  const said = (re: RegExp): Promise<void> => new Promise((resolve, reject) => {
    const check = (): void => { if (re.test(stderr)) resolve(); };
    waiters.push(check); check();
    void done.then(() => reject(new Error(`exited before saying ${re}: ${stderr.slice(-2000)}`)));
  });
  return { done, said };
}
