// Where the dump comes from: stdin, or a command dbcast runs itself (so that its exit
// status is known: a dump that fails after writing everything must still abort).
import { spawn } from 'child_process';
import type { Readable } from 'stream';
import { OutputTail } from '../runtime/output-tail';
import { killGroup } from '../runtime/process-group';

export type InputResult = { ok: true } | { ok: false; message: string };

export interface InputSource {
  stream: Readable;
  /** Settles once the input is fully read and (for a command) the command exited. */
  done: Promise<InputResult>;
  /** Stop the input early (the session ended without it). */
  stop(): void;
}

const STDERR_TAIL_BYTES = 2048;

export function stdinInput(): InputSource {
  const stream = process.stdin;
  const done = new Promise<InputResult>((resolve) => {
    stream.once('end', () => resolve({ ok: true }));
    stream.once('error', (err) => resolve({ ok: false, message: `reading stdin failed: ${err.message}` }));
  });
  return { stream, done, stop: () => stream.destroy() };
}

export function commandInput(command: string, onStderr: (chunk: Buffer) => void): InputSource {
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tail = new OutputTail(STDERR_TAIL_BYTES);
  child.stderr.on('data', (chunk: Buffer) => { onStderr(chunk); tail.push(chunk); });
  const done = new Promise<InputResult>((resolve) => {
    child.once('error', (err) => resolve({ ok: false, message: `could not run --command: ${err.message}` }));
    // 'close' comes after the exit and after stdout/stderr ended: every byte was read.
    child.once('close', (code, signal) => {
      if (code === 0) { resolve({ ok: true }); return; }
      const lines = tail.lines(3);
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      resolve({ ok: false, message: `--command ${how}${lines ? `: ${lines}` : ''}` });
    });
  });
  return {
    stream: child.stdout,
    done,
    stop: () => killGroup(child, 'SIGTERM'),
  };
}
