// --pipe CMD: a child process fed the verified stream on stdin; its exit status is the result.
import { spawn, type ChildProcess } from 'child_process';
import { killGroup } from '../../runtime/process-group';
import { stdoutWriter } from '../../runtime/stdio';
import type { Sink, SinkFailure } from './sink';

const KILL_GRACE_MS = 5000;

export class PipeSink implements Sink {
  readonly label: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private finishing = false;
  private readonly forwarded: Promise<void>;

  constructor(command: string, stdoutFree: boolean) {
    this.label = `--pipe ${command}`;
    // The child's output is forwarded, not inherited: our fds 1 and 2 may be non-blocking
    // (runtime/stdio.ts), and a C program writing to one gets EAGAIN and dies. Its stdout goes to
    // ours only when the stream itself does not go there. Own process group: a kill reaches
    // everything the shell started (pg_restore included).
    this.child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out = stdoutFree ? stdoutWriter() : process.stderr;
    this.child.stdout?.pipe(out, { end: false });
    this.child.stderr?.pipe(process.stderr, { end: false });
    // Done when the child's output has ended and what we forwarded of it was written (writes
    // complete in order): we must not exit with the tail of its output still queued.
    this.forwarded = new Promise((resolve) => {
      const stdout = this.child.stdout;
      if (!stdout) { resolve(); return; }
      stdout.once('close', () => out.write(Buffer.alloc(0), () => resolve()));
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => { this.fail(`could not run --pipe: ${err.message}`, -1); resolve({ code: null, signal: null }); });
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    void this.exited.then(({ code, signal }) => {
      if (!this.finishing) this.fail(`--pipe ended before the stream did (${signal ? `signal ${signal}` : `exit status ${code}`})`, code ?? -1);
    });
    this.child.stdin?.on('error', (err) => this.fail(`--pipe stopped reading: ${err.message}`, -1));
  }

  private fail(message: string, exitCode: number): void {
    if (this.failure) return;
    this.failure = { kind: 'pipe', label: this.label, message, exitCode };
    this.failureCb?.(this.failure);
  }

  write(chunk: Buffer): boolean { return this.failure ? true : (this.child.stdin?.write(chunk) ?? true); }
  onDrain(cb: () => void): void { this.child.stdin?.on('drain', cb); }
  onFailure(cb: (f: SinkFailure) => void): void { this.failureCb = cb; }

  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    this.child.stdin?.end();
    const { code, signal } = await this.exited;
    await this.forwarded;
    if (this.failure) return { ...this.failure, exitCode: code ?? this.failure.exitCode };
    if (code === 0) return null;
    this.fail(signal ? `--pipe was killed by ${signal}` : `--pipe exited with status ${code}`, code ?? -1);
    return this.failure;
  }

  async abort(): Promise<void> {
    this.finishing = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // Kill before closing stdin: a restore must not mistake a cut stream for a complete one.
      killGroup(this.child, 'SIGTERM');
      const t = setTimeout(() => killGroup(this.child, 'SIGKILL'), KILL_GRACE_MS);
      await this.exited;
      clearTimeout(t);
    }
  }
}
