// Run dbcast the way operators do: a script under /bin/sh, with the shell's own pipes and
// redirections between dbcast and its producer/consumer (Node's spawn stdio pipes are socket
// pairs, not pipes, and would hide what a real `|` does). Nothing of the script's stdio is
// connected to the test: whatever a test wants to look at goes to files named in the script.
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { BIN } from './dbcast';

/** Quote one word for /bin/sh. */
export const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The dbcast command line as a script writes it (the node that runs the tests, the built binary). */
export const DBCAST = `${q(process.execPath)} ${q(BIN)}`;

export interface Script {
  child: ChildProcess;
  /** The shell's exit: code, or the signal that ended it (the kill timer's SIGKILL: timedOut). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>;
  kill(): void;
}

/**
 * `/bin/sh -c script` in `cwd`, stdio ignored, in its own process group, killed (the whole
 * group) after `timeoutMs`. Scripts bound their own processes with `timeout` too: this timer
 * is the last line of defence, so that no test can hang.
 */
export function sh(script: string, opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Script {
  const child = spawn('/bin/sh', ['-c', script], { cwd: opts.cwd, stdio: 'ignore', detached: true, env: opts.env ?? process.env });
  let timedOut = false;
  const kill = (): void => { try { process.kill(-(child.pid as number), 'SIGKILL'); } catch { /* already gone */ } };
  const timer = setTimeout(() => { timedOut = true; kill(); }, opts.timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>((resolve) => {
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, timedOut }); });
  });
  return { child, done, kill };
}

/** The file's text, or '' when it does not exist (yet). */
export const readText = (file: string): string => { try { return fs.readFileSync(file, 'utf8'); } catch { return ''; } };

/** An exit status a script wrote with `echo $? > file`; null if it never did. */
export function readCode(file: string): number | null {
  const s = readText(file).trim();
  return /^\d+$/.test(s) ? Number(s) : null;
}

/**
 * Resolves once `file` exists and its text matches `re` (polled every 50 ms). Rejects, with the
 * file's text, after `timeoutMs`, or as soon as `exited` (the writer's `done`) resolves first.
 */
export function waitForFile(file: string, re: RegExp, timeoutMs: number, exited?: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    let over = false;
    const started = Date.now();
    const poll = (): void => {
      if (over) return;
      if (re.test(readText(file))) { over = true; resolve(); return; }
      if (Date.now() - started > timeoutMs) {
        over = true;
        reject(new Error(`${file} never matched ${re} in ${timeoutMs} ms:\n${readText(file)}`));
        return;
      }
      setTimeout(poll, 50);
    };
    void exited?.then(() => {
      if (over) return;
      // One last look: the line may have been written just before the exit.
      over = true;
      if (re.test(readText(file))) resolve();
      else reject(new Error(`the writer of ${file} exited before it matched ${re}:\n${readText(file)}`));
    });
    poll();
  });
}

/** The first word of a `sha256sum` output file. */
export const shaOf = (file: string): string => readText(file).split(/\s/)[0];
