// Run the real `dbcast` binary (built into dist/ by `npm test`'s pretest step).
import { spawn, type ChildProcess } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const BIN = path.join(__dirname, '..', '..', 'bin', 'dbcast');

export interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stderr: string }>;
  /** Resolves once stderr matches `re`; rejects if the process exits first or `timeoutMs` passes. */
  stderrMatch(re: RegExp, timeoutMs?: number): Promise<void>;
}

export function dbcast(args: string[], io: { stdinFile?: string; stdoutFile?: string; timeoutMs?: number; netns?: string; env?: NodeJS.ProcessEnv; user?: string } = {}): Run {
  const stdin = io.stdinFile ? fs.openSync(io.stdinFile, 'r') : 'ignore';
  const stdout = io.stdoutFile ? fs.openSync(io.stdoutFile, 'w') : 'ignore';
  // As another user (a service's User=), through runuser: the tests run as root in CI.
  const argv = [...(io.user ? ['runuser', '-u', io.user, '--'] : []), process.execPath, BIN, ...args];
  // In a test host's namespace: `ip netns exec` execs the command, so the pid is dbcast's own.
  const [cmd, ...rest] = io.netns ? ['ip', 'netns', 'exec', io.netns, ...argv] : argv;
  const child = spawn(cmd, rest, { stdio: [stdin, stdout, 'pipe'], env: io.env ?? process.env, ...(io.user ? { cwd: '/' } : {}) });
  if (typeof stdin === 'number') fs.closeSync(stdin);
  if (typeof stdout === 'number') fs.closeSync(stdout);
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); for (const w of [...watchers]) w(); });
  const limit = setTimeout(() => child.kill('SIGKILL'), io.timeoutMs ?? 120_000);
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('close', (code) => { clearTimeout(limit); resolve({ code, stderr }); });
  });
  // Tests wait for what the process says rather than for a fixed time: CI machines are slow and shared.
  const stderrMatch = (re: RegExp, timeoutMs = 60_000): Promise<void> => new Promise((resolve, reject) => {
    const stop = (): void => { watchers.delete(check); clearTimeout(timer); };
    const check = (): void => { if (re.test(stderr)) { stop(); resolve(); } };
    const timer = setTimeout(() => { stop(); reject(new Error(`stderr never matched ${re} in ${timeoutMs} ms:\n${stderr}`)); }, timeoutMs);
    watchers.add(check);
    check();
    void done.then(() => { if (watchers.has(check)) { stop(); reject(new Error(`exited before stderr matched ${re}:\n${stderr}`)); } });
  });
  return { child, done, stderrMatch };
}

export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write `bytes` of random data; returns its SHA-256. */
export function randomFile(file: string, bytes: number): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  for (let left = bytes; left > 0;) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    h.update(chunk); fs.writeSync(fd, chunk); left -= chunk.length;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What `dbcast receive` prints once its sockets are bound and in the group. */
export const LISTENING = /listening for job/;

/** Resolves once every receiver said it listens: a sender started after that reaches them all. */
export async function listening(receivers: Run[], timeoutMs = 60_000): Promise<void> {
  await Promise.all(receivers.map((r) => r.stderrMatch(LISTENING, timeoutMs)));
}

/**
 * For a child not started by `dbcast()`: resolves once its stderr matches `re`; rejects when
 * it exits first or after `timeoutMs`. Call it in the tick the child was spawned, so no
 * output is missed.
 */
export function childStderrMatch(child: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const stop = (): void => { child.stderr?.off('data', onData); child.off('close', onClose); clearTimeout(timer); };
    const onData = (d: Buffer): void => { text += d.toString(); if (re.test(text)) { stop(); resolve(); } };
    const onClose = (): void => { stop(); reject(new Error(`exited before stderr matched ${re}:\n${text}`)); };
    const timer = setTimeout(() => { stop(); reject(new Error(`stderr never matched ${re} in ${timeoutMs} ms:\n${text}`)); }, timeoutMs);
    child.stderr?.on('data', onData);
    child.on('close', onClose);
  });
}
